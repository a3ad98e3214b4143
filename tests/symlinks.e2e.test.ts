/**
 * Issue 10, item 5: a volume dir (or a dir between it and the kubelet's pods
 * dir) that is a symlink is never followed: mount refuses it before touching
 * anything, unmount refuses it, and the link's target keeps every file and
 * gets no mount.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { goJson, mountAt } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "3s" } });
beforeEach(() => w.vault.clearRequests());

/** A dir with a file in it that root must not empty, standing for /etc or another pod's data. */
function victim(): string {
  const dir = join(w.root, `victim-${podUid()}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "precious"), "keep me");
  return dir;
}
/** A pod volume dir that is a symlink to a victim dir. */
function linkedVolumeDir() {
  const uid = podUid();
  const target = victim();
  const dir = w.kubelet.volumeDir(uid);
  mkdirSync(dirname(dir), { recursive: true });
  symlinkSync(target, dir);
  return { uid, target, dir };
}
const options = (uid: string) => goJson(w.kubelet.mountOptions({ uid, namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" }));
const creates = () => w.vault.requests.filter((r) => r.path.startsWith("auth/token/create")).length;

describe("a symlink in place of the volume dir", () => {
  test("mount refuses it: the target is neither emptied nor mounted over, nothing minted", async () => {
    const { uid, target, dir } = linkedVolumeDir();
    const m = await w.kubelet.call(["mount", dir, options(uid)]);
    expect(m.json).toEqual({ status: "Failure", message: `the volume dir ${dir} is a symlink, not a directory; refusing to follow it (remove the link)` });
    expect(m.stderr).toBe("");
    expect(readdirSync(target)).toEqual(["precious"]);
    expect(mountAt(target)).toBeUndefined();
    expect(lstatSync(dir).isSymbolicLink()).toBe(true);
    expect(creates()).toBe(0);
  });

  test("a bare unmount refuses it and leaves the target alone", async () => {
    const { uid, target, dir } = linkedVolumeDir();
    const u = await w.kubelet.call(["unmount", dir]);
    expect(u.json.status).toBe("Failure");
    expect(u.json.message).toContain("is a symlink");
    expect(readdirSync(target)).toEqual(["precious"]);
    expect(existsSync(dir)).toBe(true);
  });

  test("unmount of a mounted volume whose dir was swapped for a link: refused, the target untouched", async () => {
    const uid = podUid();
    const m = await w.kubelet.mount({ uid, namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" });
    expect(m.json.status).toBe("Success");
    // detach the volume and put a link where it was
    Bun.spawnSync(["umount", m.dir]);
    rmdirSync(m.dir);
    const target = victim();
    symlinkSync(target, m.dir);
    const u = await w.kubelet.call(["unmount", m.dir]);
    expect(u.json.status).toBe("Failure");
    expect(readdirSync(target)).toEqual(["precious"]);
  });

  test("a link higher up (volumes/<vendor~driver> pointing elsewhere) is refused too", async () => {
    const uid = podUid();
    const target = victim();
    const dir = w.kubelet.volumeDir(uid);
    mkdirSync(dirname(dirname(dir)), { recursive: true });
    symlinkSync(target, dirname(dir));
    mkdirSync(join(target, "vault"));
    writeFileSync(join(target, "vault", "precious"), "keep me");
    const m = await w.kubelet.call(["mount", dir, options(uid)]);
    expect(m.json.status).toBe("Failure");
    expect(m.json.message).toMatch(/parent of the volume dir .* is a symlink/);
    expect(readdirSync(join(target, "vault"))).toEqual(["precious"]);
    expect(mountAt(join(target, "vault"))).toBeUndefined();
    const u = await w.kubelet.call(["unmount", dir]);
    expect(u.json.status).toBe("Failure");
    expect(readdirSync(join(target, "vault"))).toEqual(["precious"]);
  });
});
