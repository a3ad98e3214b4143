/**
 * Issue 10, item 9: edges closed for real. A read-only state dir at unmount
 * (the volume is torn down first, the journal catches up later), a log file
 * path that is a symlink or has a 0666 mode. (Corrupt journal entries are in
 * leftovers.e2e, the secretRef marker in hygiene.e2e, policy names in
 * src/flex/options.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, linkSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountAt, runOperator } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "3s" } });
const run = (argv: string[]) => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });

describe("a read-only state dir at unmount", () => {
  test("the volume is torn down and its token revoked anyway; gc removes the entry once the dir is writable", async () => {
    const stateDir = join(mkdtempSync(join(w.root, "ro-")), "state");
    const env = { ...w.env, VAULTTMPFS_STATE_DIR: stateDir };
    const m = await w.kubelet.mount({ uid: podUid(), namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" }, env);
    expect(m.json.status).toBe("Success");
    const entryFile = join(stateDir, "volumes", `${m.dir.split("/pods/")[1]!.split("/")[0]}_vault.json`);
    const accessor = JSON.parse(readFileSync(entryFile, "utf8")).accessor;
    expect(run(["mount", "--bind", stateDir, stateDir]).exitCode).toBe(0);
    expect(run(["mount", "-o", "remount,bind,ro", stateDir]).exitCode).toBe(0);
    try {
      const u = await w.kubelet.call(["unmount", m.dir], env);
      expect([u.json.status, u.stderr]).toEqual(["Success", ""]);
      expect(mountAt(m.dir)).toBeUndefined();
      expect(w.vault.lookup(accessor)).toBeUndefined();
      expect(existsSync(entryFile)).toBe(true); // could not be removed: left for gc
    } finally {
      run(["umount", stateDir]);
    }
    const gc = await runOperator(["gc"], env);
    expect(gc.exitCode).toBe(0);
    expect(existsSync(entryFile)).toBe(false);
  });
});

describe("the log file", () => {
  test("a symlink at VAULTTMPFS_LOG_FILE is not followed: the file it points at is not written", async () => {
    const victim = join(w.root, `victim-${podUid()}`);
    writeFileSync(victim, "precious\n", { mode: 0o644 });
    const link = join(w.root, `log-link-${podUid()}`);
    symlinkSync(victim, link);
    const u = await w.kubelet.call(["unmount", w.kubelet.volumeDir(podUid())], { ...w.env, VAULTTMPFS_LOG_FILE: link });
    expect(u.json.status).toBe("Success");
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
  });

  test("created 0640; a log found at 0666 is narrowed to 0640", async () => {
    const fresh = join(w.root, `log-${podUid()}`);
    await w.kubelet.call(["unmount", w.kubelet.volumeDir(podUid())], { ...w.env, VAULTTMPFS_LOG_FILE: fresh });
    expect(statSync(fresh).mode & 0o777).toBe(0o640);
    const open = join(w.root, `log-${podUid()}`);
    writeFileSync(open, "");
    chmodSync(open, 0o666);
    await w.kubelet.call(["unmount", w.kubelet.volumeDir(podUid())], { ...w.env, VAULTTMPFS_LOG_FILE: open });
    expect(statSync(open).mode & 0o777).toBe(0o640);
    expect(readFileSync(open, "utf8")).toContain('"op":"unmount"');
  });

  test("a hard link at VAULTTMPFS_LOG_FILE is not written through: the linked file keeps its content and mode", async () => {
    const precious = join(w.root, `precious-${podUid()}`);
    writeFileSync(precious, "root's file\n", { mode: 0o600 });
    const link = join(w.root, `log-hardlink-${podUid()}`);
    linkSync(precious, link);
    const u = await w.kubelet.call(["unmount", w.kubelet.volumeDir(podUid())], { ...w.env, VAULTTMPFS_LOG_FILE: link });
    expect(u.json.status).toBe("Success");
    expect(readFileSync(precious, "utf8")).toBe("root's file\n");
    expect(statSync(precious).mode & 0o777).toBe(0o600);
  });

  test("a log file another user created first is not written: they would read every accessor and pod name", async () => {
    const planted = join(w.root, `log-${podUid()}`);
    writeFileSync(planted, "");
    chmodSync(planted, 0o666);
    chownSync(planted, 65534, 65534);
    const u = await w.kubelet.call(["unmount", w.kubelet.volumeDir(podUid())], { ...w.env, VAULTTMPFS_LOG_FILE: planted });
    expect(u.json.status).toBe("Success");
    expect(readFileSync(planted, "utf8")).toBe("");
  });
});
