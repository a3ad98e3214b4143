/**
 * Issue 8, items 7 and 8 against a real OpenBao: `doctor` green on a good
 * node and exactly one failing check for a generator without create on the
 * role, a missing role, and a wrong CA; then OpenBao namespaces: the
 * README's Vault setup run with VAULT_NAMESPACE=team-a, a mount that works
 * with it and fails cleanly without it.
 */
import { beforeAll, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, mountAt } from "../support/kubelet.ts";
import { realServersWanted } from "../support/bao.ts";
import { readmeShellBlocks, runOperatorShell } from "./readme.ts";
import { CREATOR, describeReal, podUid, useRealWorld } from "./world.ts";

interface Check { name: string; status: "ok" | "warn" | "fail" | "skip"; detail: string; fix?: string }
interface Report { ok: boolean; checks: Check[] }

const w = useRealWorld();
let pluginDir: string;
beforeAll(() => {
  if (!realServersWanted()) return;
  // A good node: 0600 token, 0700 state dir, this binary installed where the kubelet looks.
  chmodSync(w.tokenPath, 0o600);
  mkdirSync(w.stateDir, { mode: 0o700, recursive: true });
  chmodSync(w.stateDir, 0o700);
  pluginDir = join(w.root, "plugins");
  mkdirSync(join(pluginDir, "cloudwatt~vaulttmpfs"), { recursive: true });
  copyFileSync(BINARY, join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"));
  chmodSync(join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"), 0o755);
});

async function doctor(env: Record<string, string> = {}): Promise<{ exitCode: number; report: Report; stderr: string }> {
  const r = await w.run(["doctor", "--json", "--plugin-dir", pluginDir], env);
  try {
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout), stderr: r.stderr };
  } catch {
    throw new Error(`doctor printed no JSON: ${r.stdout}${r.stderr}`);
  }
}
const failing = (r: Report) => r.checks.filter((c) => c.status === "fail").map((c) => c.name);
const check = (r: Report, name: string) => r.checks.find((c) => c.name === name)!;
function tokenFile(name: string, token: string): string {
  const path = join(w.root, name);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return path;
}
async function orphan(policies: string[], namespace?: string): Promise<string> {
  const r = await w.bao.api("POST", "auth/token/create-orphan", { token: w.bao.rootToken, namespace, body: { policies, period: "24h" } });
  if (r.status !== 200) throw new Error(`create-orphan: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.auth.client_token;
}

describeReal("7. doctor against the real server", () => {
  test("green on a good node, with the server's version", async () => {
    const run = await doctor();
    expect(failing(run.report)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(check(run.report, "vault").detail).toContain("version 2.6.2");
    expect(check(run.report, "role")).toMatchObject({ status: "ok" });
    expect(check(run.report, "capabilities")).toMatchObject({ status: "ok" });
  });

  test("a generator token without create on the role: only `capabilities` fails", async () => {
    const policy = join(w.root, "no-create.hcl");
    // The README's generator policy minus its create rule.
    writeFileSync(policy, readFileSync(join(import.meta.dir, "..", "..", "policies", "token_generator_policy.hcl"), "utf8").replace(/path "auth\/token\/create\/applications" \{[^}]*\}/, ""));
    expect((await w.bao.cli(["policy", "write", "no-create", policy])).exitCode).toBe(0);
    const run = await doctor({ VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenFile("no-create-token", await orphan(["no-create"])) });
    expect(failing(run.report)).toEqual(["capabilities"]);
    expect(check(run.report, "capabilities").detail).toContain("auth/token/create/applications");
    expect(run.exitCode).toBe(1);
  });

  test("a missing role: only `role` fails", async () => {
    const policy = join(w.root, "other-role.hcl");
    writeFileSync(policy, readFileSync(join(import.meta.dir, "..", "..", "policies", "token_generator_policy.hcl"), "utf8").replaceAll("auth/token/create/applications", "auth/token/create/missing").replaceAll("auth/token/roles/applications", "auth/token/roles/missing"));
    expect((await w.bao.cli(["policy", "write", "missing_token_creator", policy])).exitCode).toBe(0);
    const run = await doctor({ VAULTTMPFS_ROLE_NAME: "missing", VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenFile("missing-role-token", await orphan(["missing_token_creator"])) });
    expect(failing(run.report)).toEqual(["role"]);
    expect(check(run.report, "role").fix).toContain("vault write auth/token/roles/missing");
  });

  test("a wrong CA: only `tls` fails, and the Vault checks are skipped", async () => {
    const run = await doctor({ VAULT_CACERT: join(w.bao.pki.dir, "other-ca.crt") });
    expect(failing(run.report)).toEqual(["tls"]);
    expect(check(run.report, "vault").status).toBe("skip");
  });
});

describeReal("8. VAULT_NAMESPACE with OpenBao namespaces", () => {
  let nsTokenFile: string;
  beforeAll(async () => {
    if (!realServersWanted()) return;
    const ns = await w.bao.api("POST", "sys/namespaces/team-a", { token: w.bao.rootToken, body: {} });
    if (ns.status !== 200) throw new Error(`namespace: ${ns.status} ${JSON.stringify(ns.json)}`);
    // The README's Vault setup, run by an operator whose shell has VAULT_NAMESPACE=team-a.
    for (const block of readmeShellBlocks("Vault setup")) await runOperatorShell(w.bao, block, { env: { VAULT_NAMESPACE: "team-a" } });
    nsTokenFile = tokenFile("team-a-generator", await orphan(["applications_token_creator"], "team-a"));
  });

  test("the namespace holds its own role (the root namespace's is another)", async () => {
    const inNs = await w.bao.api("GET", "auth/token/roles/applications", { token: w.bao.rootToken, namespace: "team-a" });
    expect(inNs.status).toBe(200);
    // Tokens made in a namespace carry its id after a dot: the driver must not parse them.
    expect(readFileSync(nsTokenFile, "utf8").trim()).toMatch(/^s\.[A-Za-z0-9]{24}\.[A-Za-z0-9]+$/);
  });

  test("with VAULT_NAMESPACE=team-a: mount, unwrap in the namespace, unmount revokes there", async () => {
    const env = { VAULT_NAMESPACE: "team-a", VAULTTMPFS_GENERATOR_TOKEN_PATH: nsTokenFile };
    const p = { uid: podUid(), namespace: "shop", name: "web-0", serviceAccount: "web" };
    const call = await w.kubelet.mount(p, { "vault/policies": "app" }, env);
    expect(call.json).toEqual({ status: "Success" });
    const wrapping = readFileSync(join(call.dir, "vault-token"), "utf8");
    const unwrapped = await w.bao.api("PUT", "sys/wrapping/unwrap", { token: wrapping, namespace: "team-a" });
    expect(unwrapped.status).toBe(200);
    const token: string = unwrapped.json.auth.client_token;
    const self = await w.bao.api("GET", "auth/token/lookup-self", { token, namespace: "team-a" });
    expect(self.json.data).toMatchObject({ role: "applications", meta: { creator: CREATOR, poduid: p.uid } });
    // The kubelet's unmount carries the node's env too.
    const saved = w.kubelet.env;
    w.kubelet.env = { ...saved, ...env };
    try {
      const un = await w.kubelet.unmount(call.dir);
      expect(un !== "skipped" && un.json.status).toBe("Success");
    } finally {
      w.kubelet.env = saved;
    }
    expect((await w.bao.api("GET", "auth/token/lookup-self", { token, namespace: "team-a" })).status).toBe(403);
    const journal = join(w.stateDir, "volumes", `${p.uid}_vault.json`);
    expect(() => readFileSync(journal)).toThrow();
  });

  test("doctor is green with VAULT_NAMESPACE=team-a", async () => {
    const run = await doctor({ VAULT_NAMESPACE: "team-a", VAULTTMPFS_GENERATOR_TOKEN_PATH: nsTokenFile });
    expect(failing(run.report)).toEqual([]);
    expect(check(run.report, "vault").status).toBe("ok");
  });

  test("without VAULT_NAMESPACE the same token fails cleanly: the server's 403, no mount, no token", async () => {
    const p = { uid: podUid(), namespace: "shop", name: "web-1", serviceAccount: "web" };
    const call = await w.kubelet.mount(p, { "vault/policies": "app" }, { VAULTTMPFS_GENERATOR_TOKEN_PATH: nsTokenFile });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/applications: 403 permission denied");
    expect(mountAt(call.dir)).toBeUndefined();
  });

  test("a namespace that does not exist: the server's own 404 text", async () => {
    const call = await w.kubelet.mount({ uid: podUid(), namespace: "shop" }, { "vault/policies": "app" }, { VAULT_NAMESPACE: "team-z", VAULTTMPFS_GENERATOR_TOKEN_PATH: nsTokenFile });
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/applications: 404 namespace not found");
  });
});
