import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../config.ts";
import type { Services } from "../../context.ts";
import type { VaultApi } from "../../vault/api.ts";
import { VaultResponseError } from "../../vault/errors.ts";
import { renewFailed, renewTick } from "./tasks.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A node of `mode` whose token file holds a token, and an agent log that keeps its lines. */
function node(env: Record<string, string>, renewSelf: VaultApi["renewSelf"]) {
  const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-tasks-"));
  dirs.push(root);
  const tokenPath = join(root, "node-token");
  writeFileSync(tokenPath, "hvs.node\n", { mode: 0o600 });
  const config = loadConfig({ VAULTTMPFS_STATE_DIR: root, VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenPath, VAULTTMPFS_REVOKE_TOKEN_PATH: tokenPath, ...env });
  const lines: string[] = [];
  const svc = { api: { renewSelf } as unknown as VaultApi, journal: { lockPath: (n: string) => join(root, n) } } as unknown as Services;
  return { deps: { config, svc, tmpfs: undefined as never, log: { line: (t: string) => void lines.push(t) }, now: Date.now }, lines };
}

describe("the agent's renewal lines name the node token", () => {
  const renewed = (async () => ({ lease_duration: 86400, renewable: true })) as unknown as VaultApi["renewSelf"];
  test("token-role mode: the generator token, as before", async () => {
    const { deps, lines } = node({}, renewed);
    await renewTick(deps);
    expect(lines).toEqual(["renew: generator token renewed, TTL 24h"]);
  });
  test("pod identity mode: the revoke-only token", async () => {
    const { deps, lines } = node({ VAULTTMPFS_MODE: "pod-identity" }, renewed);
    await renewTick(deps);
    expect(lines).toEqual(["renew: revoke-only token renewed, TTL 24h"]);
    renewFailed(deps, new VaultResponseError("PUT", "/v1/auth/token/renew-self", 403, ["permission denied"], false));
    expect(lines[1]).toStartWith("renew: cannot renew the revoke-only token: ");
  });
});
