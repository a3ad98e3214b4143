/**
 * Any failure after the token exists undoes everything: nothing mounted,
 * nothing written, an empty dir, the token revoked, no journal entry.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../src/cli.ts";
import { defaultContext } from "../src/context.ts";
import { createTmpfs } from "../src/volume/tmpfs.ts";
import { goJson, mountAt } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "1s" } });
beforeEach(() => {
  w.vault.clearFaults();
  w.vault.clearRequests();
});

const pod = () => ({ uid: podUid(), namespace: "shop", name: "web-0", serviceAccount: "web" });
const livePodTokens = () => w.vault.liveTokens().filter((t) => t.meta?.creator === "kubernetes-flexvolume-vault-plugin");
const journal = () => (existsSync(join(w.stateDir, "volumes")) ? readdirSync(join(w.stateDir, "volumes")) : []);

/** The state every failed mount must leave: checked after each scenario. */
function expectNothingLeft(dir: string, liveBefore: number) {
  expect(mountAt(dir)).toBeUndefined();
  if (existsSync(dir)) expect(readdirSync(dir)).toEqual([]);
  expect(livePodTokens().length).toBe(liveBefore);
  expect(journal()).toEqual([]);
}

describe("Vault refuses or fails", () => {
  test.each([
    ["403 (generator lacks the right)", { status: 403, errors: ["1 error occurred:\n\t* permission denied\n\n"] }, "403 permission denied"],
    ["400 (role refuses the policy)", { status: 400, errors: ['token policy "x" is disallowed by this role'] }, '400 token policy "x" is disallowed by this role'],
    ["500", { status: 500, errors: ["internal error"] }, "500 internal error"],
  ])("create answers %s → Failure with Vault's text", async (_name, fault, text) => {
    const before = livePodTokens().length;
    w.vault.inject({ path: /^auth\/token\/create\//, ...fault });
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe(`Vault POST /v1/auth/token/create/applications: ${text}`);
    expectNothingLeft(call.dir, before);
  });

  test("a generator token Vault no longer knows → 403 from the real ACL", async () => {
    const before = livePodTokens().length;
    const env = { ...w.env, VAULTTMPFS_GENERATOR_TOKEN_PATH: join(w.root, "bogus-token") };
    writeFileSync(env.VAULTTMPFS_GENERATOR_TOKEN_PATH, "hvs.AAAAAAAAAAAAAAAAAAAAAAAA\n", { mode: 0o600 });
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    const r = await w.kubelet.call(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], env);
    expect(r.json.message).toBe("Vault POST /v1/auth/token/create/applications: 403 permission denied; invalid token");
    expectNothingLeft(dir, before);
  });

  test("a hung Vault: Failure within VAULT_CLIENT_TIMEOUT, and the abandoned request mints nothing", async () => {
    const before = livePodTokens().length;
    w.vault.inject({ path: /^auth\/token\/create\//, hang: true });
    const started = performance.now();
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    const elapsed = performance.now() - started;
    w.vault.clearFaults();
    w.vault.releaseHung();
    await Bun.sleep(50);
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/applications: no answer within 1s (VAULT_CLIENT_TIMEOUT)");
    expect(elapsed).toBeLessThan(5000);
    expectNothingLeft(call.dir, before);
  });

  test("a 502 on create is not retried: the proxy may have forwarded it, and a retry could mint a token nobody tracks", async () => {
    const before = livePodTokens().length;
    w.vault.inject({ path: /^auth\/token\/create\//, status: 502, body: "<html>bad gateway</html>", times: 1 });
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" }, { VAULT_MAX_RETRIES: "2", VAULT_CLIENT_TIMEOUT: "10s" });
    expect(call.json.message).toMatch(/^Vault POST \/v1\/auth\/token\/create\/applications: 502 not an answer from Vault \(application\/json, 24 bytes\); check VAULT_ADDR and any proxy in between$/);
    expect(w.vault.requests.filter((r) => r.path.startsWith("auth/token/create/"))).toHaveLength(1);
    expectNothingLeft(call.dir, before);
  });

  test("retries then succeeds (a 503 from a standby with no active node)", async () => {
    w.vault.inject({ path: /^auth\/token\/create\//, status: 503, errors: ["node is not active"], times: 1 });
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" }, { VAULT_MAX_RETRIES: "2", VAULT_CLIENT_TIMEOUT: "10s" });
    expect(call.json.status).toBe("Success");
    expect(w.vault.requests.filter((r) => r.path.startsWith("auth/token/create/")).map((r) => r.status)).toEqual([503, 200]);
    await w.kubelet.unmount(call.dir);
  }, 10_000);

  test("a wrapped request answered without wrap_info → Failure naming VAULT_WRAP_TTL, and that token revoked", async () => {
    const stray = w.vault.createToken({ policies: ["app"], meta: { creator: "kubernetes-flexvolume-vault-plugin" } });
    const before = livePodTokens().length;
    const body = { request_id: "r", lease_id: "", renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: { client_token: stray.token, accessor: stray.accessor, policies: ["app", "default"], metadata: null, lease_duration: 3600, renewable: true } };
    w.vault.inject({ path: /^auth\/token\/create\//, status: 200, body: JSON.stringify(body), times: 1 });
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toContain("set VAULT_WRAP_TTL");
    expect(call.combined).not.toContain(stray.token);
    expect(w.vault.lookup(stray.token)).toBeUndefined();
    expect(livePodTokens().length).toBe(before - 1);
  });
});

describe("failures after the token exists", () => {
  test("a write failure inside the tmpfs unmounts, cleans up and revokes (in-process)", async () => {
    const before = livePodTokens().length;
    const real = createTmpfs();
    // A tmpfs that refuses writes: the real mount, then made read-only before the files go in.
    const brokenTmpfs = { ...real, mount: async (spec: Parameters<typeof real.mount>[0]) => { await real.mount(spec); await real.remountReadOnly(spec.dir); } };
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    let out = "";
    const code = await main(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], w.env, { out: (t) => void (out += t), err: () => {} }, { ...defaultContext(w.env), tmpfs: brokenTmpfs });
    expect(code).toBe(1);
    expect(JSON.parse(out).message).toBe(`cannot write the token files into ${join(w.stateDir, "staging", `${p.uid}_vault`)}: EROFS`);
    expect(existsSync(join(w.stateDir, "staging", `${p.uid}_vault`))).toBe(false);
    expect(w.vault.requests.map((r) => r.path)).toContain("auth/token/revoke-accessor");
    expectNothingLeft(dir, before);
  });

  test("a move reported as failed after it took effect (killed or timed out) is undone before the token is revoked", async () => {
    const before = livePodTokens().length;
    const real = createTmpfs();
    const lyingTmpfs = { ...real, move: async (from: string, to: string) => { await real.move(from, to); throw new Error("mount --move timed out"); } };
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    const code = await main(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], w.env, { out: () => {}, err: () => {} }, { ...defaultContext(w.env), tmpfs: lyingTmpfs });
    expect(code).toBe(1);
    // Otherwise the kubelet's retry would see a mount point and report Success with a revoked token inside.
    expectNothingLeft(dir, before);
  });

  test("when the rollback's revocation fails too, the entry stays pending for gc", async () => {
    const real = createTmpfs();
    const brokenTmpfs = { ...real, mount: async (spec: Parameters<typeof real.mount>[0]) => { await real.mount(spec); await real.remountReadOnly(spec.dir); } };
    w.vault.inject({ path: "auth/token/revoke-accessor", status: 503, errors: ["Vault is sealed"] });
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    const code = await main(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], w.env, { out: () => {}, err: () => {} }, { ...defaultContext(w.env), tmpfs: brokenTmpfs });
    expect(code).toBe(1);
    expect(mountAt(dir)).toBeUndefined();
    const entry = JSON.parse(readFileSync(join(w.stateDir, "volumes", `${p.uid}_vault.json`), "utf8"));
    expect(entry).toMatchObject({ state: "pending", attempts: 1 });
    w.vault.clearFaults();
    const gc = await w.inProcess(["gc"]);
    expect(gc.exitCode).toBe(0);
    expect(w.vault.lookup(entry.accessor)).toBeUndefined();
    expect(journal()).toEqual([]);
  });
});

describe("TLS from the binary", () => {
  test("NODE_TLS_REJECT_UNAUTHORIZED=0 in the kubelet's environment does not switch verification off", async () => {
    const before = livePodTokens().length;
    const p = pod();
    const env = { ...w.env, NODE_TLS_REJECT_UNAUTHORIZED: "0" } as Record<string, string>;
    delete env.VAULT_CACERT;
    const call = await w.kubelet.call(["mount", w.kubelet.volumeDir(p.uid), goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], env);
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toContain("TLS failure");
    expect(call.stderr).toBe("");
    expect(livePodTokens().length).toBe(before);
  });

  test("a wrong VAULT_TLS_SERVER_NAME is a TLS failure that says what to check", async () => {
    const p = pod();
    const call = await w.kubelet.call(["mount", w.kubelet.volumeDir(p.uid), goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], { ...w.env, VAULT_TLS_SERVER_NAME: "other.test" });
    expect(call.json.message).toMatch(/TLS failure \(.+\); check VAULT_CACERT\/VAULT_CAPATH, VAULT_TLS_SERVER_NAME/);
  });

  test("mTLS: the binary presents VAULT_CLIENT_CERT/KEY", async () => {
    const { VaultEmulator } = await import("./emulator/index.ts");
    const m = await VaultEmulator.start({ tls: { cert: w.pki.serverCert, key: w.pki.serverKey, ca: w.pki.ca, requestCert: true } });
    try {
      m.writeRole("applications", { allowed_policies: ["app"], orphan: true, token_period: 3600 } as never);
      const gen = m.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true });
      const tokenPath = join(w.root, "mtls-token");
      writeFileSync(tokenPath, gen.token, { mode: 0o600 });
      const env = { ...w.env, VAULT_ADDR: m.url, VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenPath, VAULTTMPFS_STATE_DIR: join(w.root, "mtls-state") };
      const p = pod();
      const dir = w.kubelet.volumeDir(p.uid);
      const without = await w.kubelet.call(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], env);
      expect(without.json.message).toContain("TLS failure");
      const withCert = await w.kubelet.call(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], { ...env, VAULT_CLIENT_CERT: w.pki.clientCertFile, VAULT_CLIENT_KEY: w.pki.clientKeyFile });
      expect(withCert.json.status).toBe("Success");
      expect((await w.kubelet.call(["unmount", dir], { ...env, VAULT_CLIENT_CERT: w.pki.clientCertFile, VAULT_CLIENT_KEY: w.pki.clientKeyFile })).json.status).toBe("Success");
      expect(m.liveTokens().filter((t) => t.meta?.poduid === p.uid)).toEqual([]);
    } finally {
      await m.stop();
    }
  });
});
