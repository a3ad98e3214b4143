/**
 * Issue 10, item 2: the state dir is trusted only when only root could have
 * put anything there. Each case builds the attack for real (dirs owned by
 * another uid, group/world-writable modes, symlinks in place of the state
 * dir's dirs, planted journal entries) and runs the compiled driver on it.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountAt, runOperator } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "3s" } });
beforeEach(() => {
  w.vault.clearFaults();
  w.vault.clearRequests();
});

const NOBODY = 65534;
const creates = () => w.vault.requests.filter((r) => r.path.startsWith("auth/token/create")).length;
/** A fresh state dir path (not created) under the world's root-only temp dir. */
const freshStateDir = () => join(mkdtempSync(join(w.root, "sd-")), "state");

async function expectRefusedMount(stateDir: string, message: RegExp) {
  const uid = podUid();
  const m = await w.kubelet.mount({ uid, namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" }, { VAULTTMPFS_STATE_DIR: stateDir });
  expect(m.json.status).toBe("Failure");
  expect(m.json.message).toMatch(message);
  expect(m.stderr).toBe("");
  expect(creates()).toBe(0); // refused before anything was minted
  expect(mountAt(m.dir)).toBeUndefined();
  return m;
}

describe("mount refuses a state dir another user could have changed", () => {
  test("state dir owned by another uid (pre-created under a shared parent)", async () => {
    const stateDir = freshStateDir();
    mkdirSync(stateDir, { mode: 0o700 });
    chownSync(stateDir, NOBODY, NOBODY);
    await expectRefusedMount(stateDir, /refusing to use the state dir: .*belongs to uid 65534, not to root/);
  });

  test("state dir writable by group or others", async () => {
    const stateDir = freshStateDir();
    mkdirSync(stateDir);
    chmodSync(stateDir, 0o777);
    await expectRefusedMount(stateDir, /is mode 0777, writable by group or others/);
  });

  test("volumes/ owned by another uid", async () => {
    const stateDir = freshStateDir();
    mkdirSync(join(stateDir, "volumes"), { recursive: true, mode: 0o700 });
    chownSync(join(stateDir, "volumes"), NOBODY, NOBODY);
    await expectRefusedMount(stateDir, /volumes belongs to uid 65534/);
  });

  test("staging/ is a symlink to a dir another user owns (token theft through the staging tmpfs)", async () => {
    const stateDir = freshStateDir();
    mkdirSync(stateDir, { mode: 0o700 });
    const theirs = join(w.root, `theirs-${podUid()}`);
    mkdirSync(theirs);
    chownSync(theirs, NOBODY, NOBODY);
    symlinkSync(theirs, join(stateDir, "staging"));
    await expectRefusedMount(stateDir, /staging is a symlink; it must be a real directory/);
    expect(readdirSync(theirs)).toEqual([]);
    expect(mountAt(theirs)).toBeUndefined();
  });

  test("locks/ is a symlink", async () => {
    const stateDir = freshStateDir();
    mkdirSync(stateDir, { mode: 0o700 });
    const elsewhere = join(w.root, `elsewhere-${podUid()}`);
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, join(stateDir, "locks"));
    await expectRefusedMount(stateDir, /locks is a symlink/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  test("a parent of the state dir is world-writable without the sticky bit", async () => {
    const parent = mkdtempSync(join(w.root, "open-"));
    chmodSync(parent, 0o777);
    await expectRefusedMount(join(parent, "state"), /a parent of the state dir .* is mode 0777/);
  });
});

describe("gc", () => {
  test("refuses a state dir owned by another user: their planted entry cannot revoke the generator token", async () => {
    const stateDir = freshStateDir();
    const volumes = join(stateDir, "volumes");
    mkdirSync(volumes, { recursive: true, mode: 0o700 });
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    mkdirSync(join(w.kubelet.rootDir, "pods"), { recursive: true });
    writeFileSync(join(volumes, `${uid}_vault.json`), JSON.stringify({ version: 1, podUid: uid, volumeName: "vault", dir, accessor: w.generatorAccessor, state: "pending" }));
    for (const d of [stateDir, volumes]) chownSync(d, NOBODY, NOBODY);
    // an operator command: plain text on stderr, non-zero exit
    const run = await runOperator(["gc"], { ...w.env, VAULTTMPFS_STATE_DIR: stateDir });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/refusing to use the state dir: .*belongs to uid 65534/);
    expect(w.vault.lookup(w.generatorAccessor)).toBeDefined();
    expect(w.vault.requests.filter((r) => r.path === "auth/token/revoke-accessor")).toHaveLength(0);
  });

  test("a journal entry whose dir is not its own key's volume path is reported, never acted on", async () => {
    const stateDir = freshStateDir();
    const volumes = join(stateDir, "volumes");
    mkdirSync(volumes, { recursive: true, mode: 0o700 });
    const uid = podUid();
    mkdirSync(join(w.kubelet.rootDir, "pods"), { recursive: true });
    // A copied or hand-made entry: named for volume <uid>_vault, but its dir points at another pod's volume.
    const victim = w.kubelet.volumeDir(podUid());
    const name = `${uid}_vault.json`;
    writeFileSync(join(volumes, name), JSON.stringify({ version: 1, podUid: uid, volumeName: "vault", dir: victim, accessor: w.generatorAccessor, state: "active" }), { mode: 0o600 });
    const run = await runOperator(["gc", "--json"], { ...w.env, VAULTTMPFS_STATE_DIR: stateDir });
    expect(run.exitCode).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.unreadable).toEqual([name]);
    expect(report.items).toEqual([]);
    expect(w.vault.lookup(w.generatorAccessor)).toBeDefined();
    expect(existsSync(join(volumes, name))).toBe(true); // left for a person to look at
  });
});
