/**
 * `vaulttmpfs doctor` against the emulator and a fake plugin dir: green on a
 * good node, and each broken thing reported as exactly one failing check.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BINARY, mountCount, requirePrivateMountNamespace } from "./support/kubelet.ts";
import { ROLE, ROLE_POLICIES, startWorld, type World } from "./support/world.ts";

interface Check { name: string; status: "ok" | "warn" | "fail" | "skip"; detail: string; fix?: string }
interface Report { ok: boolean; checks: Check[] }

const CHECKS = ["config", "tenancy", "tls", "vault", "token-file", "token", "capabilities", "role", "install", "state-dir", "mount-tools"];

let w: World;
let pluginDir: string;
beforeAll(async () => {
  requirePrivateMountNamespace();
  w = await startWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "5s" } });
  // A good node: root-owned 0600 token, 0700 state dir, this binary installed where the kubelet looks.
  chmodSync(w.tokenPath, 0o600);
  mkdirSync(w.stateDir, { mode: 0o700 });
  pluginDir = join(w.root, "plugins");
  mkdirSync(join(pluginDir, "cloudwatt~vaulttmpfs"), { recursive: true });
  copyFileSync(BINARY, join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"));
  chmodSync(join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"), 0o755);
}, 30_000);
afterAll(() => w?.stop());

async function doctor(opts: { env?: Record<string, string>; args?: string[]; json?: boolean } = {}) {
  const args = opts.args ?? [];
  const argv = [BINARY, "doctor", ...(opts.json === false ? [] : ["--json"]), ...(args.includes("--plugin-dir") ? [] : ["--plugin-dir", pluginDir]), ...args];
  const child = Bun.spawn(argv, { env: { ...w.env, ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode, get report(): Report { return JSON.parse(stdout); } };
}

const statuses = (r: Report) => Object.fromEntries(r.checks.map((c) => [c.name, c.status]));
const check = (r: Report, name: string) => r.checks.find((c) => c.name === name)!;

/** Exactly `name` fails, with a fix; doctor exits 1 and says so in `ok`. */
function expectOnlyFailure(run: { exitCode: number; report: Report }, name: string): Check {
  expect(run.report.checks.filter((c) => c.status === "fail").map((c) => c.name)).toEqual([name]);
  expect(run.exitCode).toBe(1);
  expect(run.report.ok).toBe(false);
  const failed = check(run.report, name);
  expect(failed.fix).toBeTruthy();
  return failed;
}

/** A token file holding `token`, mode 0600, for one test. */
function tokenFile(name: string, token: string, mode = 0o600): string {
  const path = join(w.root, name);
  writeFileSync(path, `${token}\n`, { mode });
  chmodSync(path, mode);
  return path;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("a good node", () => {
  test("exit 0, every check ok, one JSON document, no token printed", async () => {
    const run = await doctor();
    expect(run.exitCode).toBe(0);
    expect(run.report.ok).toBe(true);
    expect(run.report.checks.map((c) => c.name)).toEqual(CHECKS);
    expect(Object.values(statuses(run.report))).toEqual(CHECKS.map(() => "ok"));
    expect(check(run.report, "install").detail).toContain("identical to this binary");
    expect(check(run.report, "token").detail).toContain("periodic 24h");
    expect(run.report.checks.every((c) => c.fix === undefined)).toBe(true);
    expect(run.stdout).not.toContain(w.generatorToken);
    expect(run.stderr).toBe("");
  });

  test("human output: one aligned line per check and a summary", async () => {
    const run = await doctor({ json: false });
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.slice(0, CHECKS.length).map((l) => l.slice(0, 20))).toEqual(CHECKS.map((c) => `ok    ${c.padEnd(12)}  `));
    expect(lines.at(-1)).toBe("doctor: 11 ok, 0 warnings, 0 failed: ready");
    expect(run.stdout).not.toContain(w.generatorToken);
  });

  test("--mount-test mounts a tmpfs in the state dir and leaves nothing behind", async () => {
    const run = await doctor({ args: ["--mount-test"] });
    expect(run.exitCode).toBe(0);
    expect(check(run.report, "mount-test")).toMatchObject({ status: "ok" });
    expect(readdirSync(w.stateDir)).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(w.stateDir);
  });

  test("in-process (running from source): the identity check is skipped with a note", async () => {
    const run = await w.inProcess(["doctor", "--json", "--plugin-dir", pluginDir]);
    expect(run.exitCode).toBe(0);
    expect(check(JSON.parse(run.stdout), "install").detail).toContain("running from source: not compared");
  });
});

describe("each broken thing fails exactly its check", () => {
  test("config: a malformed variable; the checks that need the config are skipped", async () => {
    const failed = expectOnlyFailure(await doctor({ env: { VAULT_MAX_RETRIES: "lots" } }), "config");
    expect(failed.detail).toContain("VAULT_MAX_RETRIES");
  });

  test("vault down: VAULT_ADDR at a closed port", async () => {
    const addr = `https://127.0.0.1:${await closedPort()}`;
    const run = await doctor({ env: { VAULT_ADDR: addr } });
    const failed = expectOnlyFailure(run, "vault");
    expect(failed.detail).toBe(`cannot reach ${addr} (ECONNREFUSED)`);
    expect(statuses(run.report)).toMatchObject({ tls: "skip", token: "skip", capabilities: "skip", role: "skip", install: "ok" });
  });

  test("vault sealed", async () => {
    w.vault.sealed = true;
    try {
      const failed = expectOnlyFailure(await doctor(), "vault");
      expect(failed.detail).toContain("SEALED");
      expect(failed.fix).toContain("vault operator unseal");
    } finally {
      w.vault.sealed = false;
    }
  });

  test("wrong CA: its own TLS failure naming VAULT_CACERT and VAULT_TLS_SERVER_NAME", async () => {
    const run = await doctor({ env: { VAULT_CACERT: w.pki.otherCaFile } });
    const failed = expectOnlyFailure(run, "tls");
    expect(failed.detail).toContain(`VAULT_CACERT=${w.pki.otherCaFile}`);
    expect(failed.fix).toContain("VAULT_TLS_SERVER_NAME");
    expect(check(run.report, "vault").status).toBe("skip");
  });

  test("world-readable token file (its token is still checked)", async () => {
    const path = tokenFile("readable-token", w.generatorToken, 0o644);
    const run = await doctor({ env: { VAULTTMPFS_GENERATOR_TOKEN_PATH: path } });
    expect(expectOnlyFailure(run, "token-file").detail).toContain("mode 0644");
    expect(check(run.report, "token").status).toBe("ok");
  });

  test("revoked generator token", async () => {
    const t = w.vault.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true });
    w.vault.revoke(t.accessor);
    const run = await doctor({ env: { VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenFile("revoked-token", t.token) } });
    const failed = expectOnlyFailure(run, "token");
    expect(failed.detail).toContain("permission denied");
    expect(failed.fix).toContain("vaulttmpfs bootstrap --force");
    expect(statuses(run.report)).toMatchObject({ capabilities: "skip", role: "skip" });
    expect(run.stdout).not.toContain(t.token);
  });

  test("generator without capabilities: a policy lacking the create and revoke paths", async () => {
    w.vault.writePolicy("lookup-only", [{ path: "auth/token/lookup-self", capabilities: ["read"] }]);
    const t = w.vault.createToken({ policies: ["lookup-only"], period: 86400, orphan: true });
    const run = await doctor({ env: { VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenFile("weak-token", t.token) } });
    const failed = expectOnlyFailure(run, "capabilities");
    expect(failed.detail).toContain("auth/token/create/applications (mint pod tokens)");
    expect(failed.detail).toContain("auth/token/revoke-accessor");
    expect(failed.detail).not.toContain("renew-self"); // Vault's default policy grants that one
    expect(check(run.report, "role").status).toBe("warn"); // it cannot read the role either: unknown, not failed
  });

  test("missing role, with the vault write fix", async () => {
    const saved = w.vault.readRole(ROLE);
    w.vault.deleteRole(ROLE);
    try {
      const failed = expectOnlyFailure(await doctor(), "role");
      expect(failed.fix).toContain(`vault write auth/token/roles/${ROLE}`);
    } finally {
      w.vault.writeRole(ROLE, { allowed_policies: saved!.allowedPolicies, disallowed_policies: saved!.disallowedPolicies, orphan: true, renewable: true, token_period: 3600 });
    }
  });

  test("binary missing from the plugin dir", async () => {
    const empty = join(w.root, "empty-plugins");
    mkdirSync(empty, { recursive: true });
    const failed = expectOnlyFailure(await doctor({ args: ["--plugin-dir", empty] }), "install");
    expect(failed.fix).toContain(`vaulttmpfs install --plugin-dir ${empty}`);
  });

  test("state dir unwritable (read-only bind mount); --mount-test is then skipped", async () => {
    expect(Bun.spawnSync(["mount", "--bind", w.stateDir, w.stateDir]).exitCode).toBe(0);
    try {
      expect(Bun.spawnSync(["mount", "-o", "remount,ro,bind", w.stateDir]).exitCode).toBe(0);
      const run = await doctor({ args: ["--mount-test"] });
      expect(expectOnlyFailure(run, "state-dir").detail).toContain("EROFS");
      expect(check(run.report, "mount-test").status).toBe("skip");
    } finally {
      Bun.spawnSync(["umount", w.stateDir]);
    }
    expect(mountCount(w.stateDir)).toBe(0);
  });
});

describe("warnings do not fail the node", () => {
  test.each([
    ["VAULT_SKIP_VERIFY", "tls", () => ({ env: { VAULT_SKIP_VERIFY: "true" } })],
    ["a standby Vault", "vault", () => {
      w.vault.standby = true;
      return { env: {}, undo: () => void (w.vault.standby = false) };
    }],
    ["a non-orphan role without a period", "role", () => {
      w.vault.writeRole("loose", { allowed_policies: ROLE_POLICIES, orphan: false });
      return { env: { VAULTTMPFS_ROLE_NAME: "loose" } };
    }],
    ["a state dir open to others", "state-dir", () => {
      chmodSync(w.stateDir, 0o755);
      return { env: {}, undo: () => chmodSync(w.stateDir, 0o700) };
    }],
  ] as const)("%s → %s warns, exit 0", async (_name, name, setup) => {
    const { env, undo } = setup() as { env: Record<string, string>; undo?: () => void };
    try {
      const run = await doctor({ env });
      expect(run.exitCode).toBe(0);
      expect(run.report.checks.filter((c) => c.status !== "ok").map((c) => [c.name, c.status])).toEqual([[name, "warn"]]);
      expect(check(run.report, name).fix).toBeTruthy();
    } finally {
      undo?.();
    }
  });

  test("the shipped role definition (policies/roles/applications.json) passes the role check", async () => {
    w.vault.writeRole("shipped", JSON.parse(readFileSync(join(import.meta.dir, "..", "policies", "roles", "applications.json"), "utf8")));
    const run = await doctor({ env: { VAULTTMPFS_ROLE_NAME: "shipped" } });
    expect(check(run.report, "role")).toMatchObject({ status: "ok", detail: "role shipped: allowed policies app-read, app-write; orphan; period 1h" });
  });

  test("a templated role: capabilities checked with a sample, the role itself skipped", async () => {
    const run = await doctor({ env: { VAULTTMPFS_ROLE_NAME: "k8s-{namespace}" } });
    expect(run.exitCode).toBe(0);
    expect(check(run.report, "capabilities")).toMatchObject({ status: "ok" });
    expect(check(run.report, "capabilities").detail).toContain("checked as k8s-default");
    expect(check(run.report, "role").status).toBe("skip");
  });
});

test("a bad --driver is a usage error (exit 2)", async () => {
  const run = await doctor({ args: ["--driver", "no-tilde"] });
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toContain("--driver must be <vendor>~<name>");
  expect(run.stdout).toBe("");
});
