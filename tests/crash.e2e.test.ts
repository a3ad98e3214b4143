/**
 * One JSON object and nothing on stderr, whatever else the process tries to
 * print and even when it crashes mid-call. The binary under test is
 * src/run.ts (the driver's real wiring) with misbehaviour injected, compiled
 * with the driver's flags: the guarantee is made at the fd level, so it holds
 * for Bun's own error printer and for children too.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildBinary } from "../build.ts";
import { goJson, Kubelet, mountAt } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0" } });
const CRASHING = join(import.meta.dir, "..", "dist", "test-crashing-driver");

beforeAll(async () => {
  await buildBinary({ target: undefined, outfile: CRASHING, entrypoint: join(import.meta.dir, "support", "crashing-driver.ts") }, "test", "test");
}, 60_000);

const livePodTokens = () => w.vault.liveTokens().filter((t) => t.meta?.creator === "kubernetes-flexvolume-vault-plugin" && !t.isWrapping);

describe("stray output and crashes on the kubelet path", () => {
  test("stray writes by every route during a successful mount: only the Success object reaches the kubelet", async () => {
    const kubelet = new Kubelet(w.kubelet.rootDir, w.env, CRASHING);
    const p = { uid: podUid() };
    const call = await kubelet.mount(p, { "vault/policies": "app" }, { VAULTTMPFS_TEST_CRASH: "none" });
    expect(call.combined).toBe('{"status":"Success"}\n');
    expect(call.exitCode).toBe(0);
    expect(mountAt(call.dir)).toBeDefined();
    expect((await kubelet.unmount(call.dir)) !== "skipped").toBe(true);
  });

  test.each(["throw", "reject"])("a crash (%s) while Vault holds the create call: one Failure object, exit 1, nothing on stderr", async (mode) => {
    w.vault.inject({ path: /^auth\/token\/create\//, hang: true, times: 1 });
    const before = livePodTokens().length;
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const kubelet = new Kubelet(w.kubelet.rootDir, w.env, CRASHING);
    const call = await kubelet.call(["mount", dir, goJson(kubelet.mountOptions({ uid }, { "vault/policies": "app" }))], { ...w.env, VAULTTMPFS_TEST_CRASH: mode, VAULTTMPFS_TEST_CRASH_AFTER_MS: "300" });
    w.vault.releaseHung();
    expect(call.stderr).toBe("");
    expect(call.json).toEqual({ status: "Failure", message: "internal error: the driver crashed; see VAULTTMPFS_LOG_FILE" });
    expect(call.combined).toBe(`${JSON.stringify(call.json)}\n`);
    expect(call.exitCode).toBe(1);
    expect(mountAt(dir)).toBeUndefined();
    expect(livePodTokens().length).toBe(before);
  });
});
