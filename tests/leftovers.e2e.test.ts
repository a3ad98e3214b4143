/**
 * Issue 10, items 4 and 9 (corrupt entries): what a killed driver leaves in
 * the journal dir. A `kill -9` between the journal's temp write and its rename
 * leaves `volumes/.tmp-<key>.json.<hex>` holding the only copy of a live
 * token's accessor; gc must revoke it and remove the file. The files are the
 * bytes materialise() writes, and the tokens are real (in the emulator).
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runOperator } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "3s" } });
beforeEach(() => {
  w.vault.clearFaults();
  mkdirSync(join(w.stateDir, "volumes"), { recursive: true, mode: 0o700 });
  mkdirSync(join(w.kubelet.rootDir, "pods"), { recursive: true });
});

const volumes = () => join(w.stateDir, "volumes");
function podToken() {
  return w.vault.createToken({ policies: ["app"], ttl: 3600, orphan: true, displayName: "pod" } as never);
}
/** The journal entry materialise() writes for a fresh mount. */
function entryJson(uid: string, accessor: string): string {
  const now = new Date().toISOString();
  return `${JSON.stringify({
    version: 1, podUid: uid, volumeName: "vault", dir: w.kubelet.volumeDir(uid), namespace: "shop", pod: "web-0", serviceAccount: "web",
    role: "applications", policies: ["app"], accessor, createdAt: now, ttlSeconds: 3600, state: "active", attempts: 0, updatedAt: now,
  })}\n`;
}
const gc = (...args: string[]) => runOperator(["gc", ...args], w.env);

describe("temp files of a journal write killed before its rename (item 4)", () => {
  test("the accessor in a leftover temp file is revoked and the file removed", async () => {
    const uid = podUid();
    const pod = podToken();
    const temp = join(volumes(), `.tmp-${uid}_vault.json.0123456789ab`);
    writeFileSync(temp, entryJson(uid, pod.accessor), { mode: 0o600 });
    const r = await gc("--json");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).leftovers).toEqual([{ file: `.tmp-${uid}_vault.json.0123456789ab`, key: { podUid: uid, volumeName: "vault" }, kind: "crashed write", action: "revoked" }]);
    expect(w.vault.lookup(pod.accessor)).toBeUndefined();
    expect(existsSync(temp)).toBe(false);
  });

  test("a temp file cut mid-write: the accessor it still shows is revoked; an empty one is just removed", async () => {
    const uid = podUid();
    const pod = podToken();
    const cut = entryJson(uid, pod.accessor).slice(0, entryJson(uid, pod.accessor).indexOf(pod.accessor) + pod.accessor.length + 12);
    const a = join(volumes(), `.tmp-${uid}_vault.json.aaaaaaaaaaaa`);
    const b = join(volumes(), `.tmp-${podUid()}_vault.json.bbbbbbbbbbbb`);
    writeFileSync(a, cut, { mode: 0o600 });
    writeFileSync(b, "", { mode: 0o600 });
    expect((await gc()).exitCode).toBe(0);
    expect(w.vault.lookup(pod.accessor)).toBeUndefined();
    expect([existsSync(a), existsSync(b)]).toEqual([false, false]);
  });

  test("a cut-off update of a live entry (same accessor) is removed without revoking the live volume's token", async () => {
    const uid = podUid();
    const pod = podToken();
    mkdirSync(w.kubelet.volumeDir(uid), { recursive: true });
    Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "vaulttmpfs", w.kubelet.volumeDir(uid)]);
    writeFileSync(join(volumes(), `${uid}_vault.json`), entryJson(uid, pod.accessor), { mode: 0o600 });
    const temp = join(volumes(), `.tmp-${uid}_vault.json.cccccccccccc`);
    writeFileSync(temp, entryJson(uid, pod.accessor).replace('"active"', '"pending"').slice(0, 200), { mode: 0o600 });
    expect((await gc()).exitCode).toBe(0);
    expect(w.vault.lookup(pod.accessor)).toBeDefined();
    expect(existsSync(temp)).toBe(false);
    Bun.spawnSync(["umount", w.kubelet.volumeDir(uid)]);
    expect((await gc()).exitCode).toBe(0); // now the volume is gone: the entry is collected as usual
    expect(w.vault.lookup(pod.accessor)).toBeUndefined();
  });
});

describe("corrupt journal entries (item 9)", () => {
  test("salvaged: the accessor is revoked and the file removed, so the volume is no longer blocked", async () => {
    const uid = podUid();
    const pod = podToken();
    const file = join(volumes(), `${uid}_vault.json`);
    writeFileSync(file, `${entryJson(uid, pod.accessor).slice(0, -40)}\u0000\u0000garbage`, { mode: 0o600 });
    const blocked = await w.kubelet.mount({ uid, namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" });
    expect(blocked.json.message).toMatch(/cannot read journal entry .* run "vaulttmpfs gc"/);
    const r = await gc("--json");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ unreadable: [], leftovers: [{ kind: "corrupt entry", action: "revoked" }] });
    expect(w.vault.lookup(pod.accessor)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    const m = await w.kubelet.mount({ uid, namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" });
    expect(m.json.status).toBe("Success");
    expect((await w.kubelet.unmount(m.dir)) !== "skipped").toBe(true);
  });

  test("nothing to salvage: reported loudly by gc --json and by doctor, left in place", async () => {
    const uid = podUid();
    const file = join(volumes(), `${uid}_vault.json`);
    writeFileSync(file, "\u0000\u0000\u0000", { mode: 0o600 });
    const r = await gc("--json");
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ unreadable: [`${uid}_vault.json`], leftovers: [{ kind: "corrupt entry", action: "unrecoverable" }] });
    const doctor = await runOperator(["doctor", "--json"], w.env);
    const stateCheck = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === "state-dir");
    expect(stateCheck.status).toBe("fail");
    expect(stateCheck.detail).toContain(`${uid}_vault.json`);
    expect(existsSync(file)).toBe(true);
    Bun.spawnSync(["rm", file]);
    expect(readdirSync(volumes()).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
  });
});
