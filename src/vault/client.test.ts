/**
 * The Vault client against the emulator over real TLS: trust, SNI, mTLS,
 * the retry ladder, deadlines, redirects and error text.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig, type VaultConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { makeTestPki, type TestPki } from "../../tests/support/certs.ts";
import { VaultEmulator } from "../../tests/emulator/index.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVaultClient, type ClientDeps } from "./client.ts";
import { vaultApi } from "./api.ts";
import { VaultInterruptedError, VaultNetworkError, VaultResponseError, VaultResponseTooLargeError, VaultTimeoutError, VaultTlsError, flattenGoMultiError } from "./errors.ts";
import { MAX_RESPONSE_BYTES } from "../http/body.ts";

let pki: TestPki;
let vault: VaultEmulator;
let other: VaultEmulator;
let mtls: VaultEmulator;

beforeAll(async () => {
  pki = await makeTestPki(join(tmpdir(), "vaulttmpfs-test-pki"));
  vault = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
  other = await VaultEmulator.start({ tls: { cert: pki.otherCert, key: pki.otherKey } });
  mtls = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true } });
});
afterAll(async () => {
  await Promise.all([vault?.stop(), other?.stop(), mtls?.stop()]);
});

const cfg = (env: Record<string, string>): VaultConfig => loadConfig(env).vault;
/** Sleeps are recorded, not slept, so retry tests run in milliseconds. */
function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) } satisfies { waits: number[] } & Pick<ClientDeps, "sleep">;
}
const health = (config: VaultConfig, deps: ClientDeps = {}) => vaultApi(createVaultClient(config, deps)).health();

describe("TLS trust", () => {
  test.each([
    ["VAULT_CACERT", () => ({ VAULT_CACERT: pki.caFile })],
    ["VAULT_CACERT_BYTES", () => ({ VAULT_CACERT_BYTES: pki.ca })],
    ["VAULT_CAPATH (hashed dir)", () => ({ VAULT_CAPATH: pki.capath })],
    ["VAULT_SKIP_VERIFY with no CA", () => ({ VAULT_SKIP_VERIFY: "true" })],
  ])("%s → connected", async (_name, env) => {
    expect((await health(cfg({ VAULT_ADDR: vault.url, ...env() }))).health?.initialized).toBe(true);
  });

  test.each([
    ["no CA (the test CA is not a public root)", () => ({})],
    ["the wrong CA", () => ({ VAULT_CACERT: pki.otherCaFile })],
    ["a server name the certificate does not carry", () => ({ VAULT_CACERT: pki.caFile, VAULT_TLS_SERVER_NAME: "other.test" })],
  ])("%s → a VaultTlsError, not retried", async (_name, env) => {
    const { waits, sleep } = recordingSleep();
    const err = await health(cfg({ VAULT_ADDR: vault.url, ...env() }), { sleep }).catch((e) => e);
    expect(err).toBeInstanceOf(VaultTlsError);
    expect(err.message).toContain("Vault GET /v1/sys/health: TLS failure");
    expect(waits).toEqual([]);
  });

  test("VAULT_TLS_SERVER_NAME sends SNI and verifies against that name", async () => {
    await expect(health(cfg({ VAULT_ADDR: other.url, VAULT_CACERT: pki.caFile }))).rejects.toBeInstanceOf(VaultTlsError);
    expect((await health(cfg({ VAULT_ADDR: other.url, VAULT_CACERT: pki.caFile, VAULT_TLS_SERVER_NAME: "other.test" }))).status).toBe(200);
  });

  test("mTLS: refused without a client certificate, served with one", async () => {
    await expect(health(cfg({ VAULT_ADDR: mtls.url, VAULT_CACERT: pki.caFile }))).rejects.toBeInstanceOf(VaultTlsError);
    const ok = await health(cfg({ VAULT_ADDR: mtls.url, VAULT_CACERT: pki.caFile, VAULT_CLIENT_CERT: pki.clientCertFile, VAULT_CLIENT_KEY: pki.clientKeyFile }));
    expect(ok.status).toBe(200);
  });

  test("a client key that does not match its certificate is named as such", async () => {
    const err = await health(cfg({ VAULT_ADDR: mtls.url, VAULT_CACERT: pki.caFile, VAULT_CLIENT_CERT: pki.clientCertFile, VAULT_CLIENT_KEY: pki.serverKeyFile })).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`VAULT_CLIENT_KEY: ${pki.serverKeyFile} does not match the certificate in ${pki.clientCertFile}`);
  });

  test("an unreadable or empty CA setting is a ConfigError naming the variable", async () => {
    await expect(health(cfg({ VAULT_ADDR: vault.url, VAULT_CACERT: "/nonexistent" }))).rejects.toThrow("VAULT_CACERT: cannot read /nonexistent: ENOENT");
    await expect(health(cfg({ VAULT_ADDR: vault.url, VAULT_CAPATH: tmpdir() + "/nonexistent-dir" }))).rejects.toThrow(/^VAULT_CAPATH: cannot read directory/);
    await expect(health(cfg({ VAULT_ADDR: vault.url, VAULT_CACERT: pki.caKeyFile }))).rejects.toThrow("holds no PEM certificate");
  });
});

describe("requests", () => {
  const client = (extra: Record<string, string> = {}, deps: ClientDeps = {}) =>
    createVaultClient(cfg({ VAULT_ADDR: vault.url, VAULT_CACERT: pki.caFile, ...extra }), deps);

  test("sends X-Vault-Request, the token and the namespace; the wrap TTL only when asked", async () => {
    const gen = vault.createToken({ policies: ["applications_token_creator"] });
    vault.clearRequests();
    await vaultApi(client({ VAULT_NAMESPACE: "team-a" })).lookupSelf(gen.token);
    const r = vault.requests.at(-1)!;
    expect(r.headers["x-vault-request"]).toBe("true");
    expect(r.headers["x-vault-token"]).toBe(gen.token);
    expect(r.headers["x-vault-namespace"]).toBe("team-a");
    expect(r.headers["x-vault-wrap-ttl"]).toBeUndefined();
  });

  test("sys/health goes to the root namespace: OpenBao refuses it inside one (VAULT_NAMESPACE set)", async () => {
    const bao = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey }, version: "openbao-2.6.2" });
    try {
      const r = await health(cfg({ VAULT_ADDR: bao.url, VAULT_CACERT: pki.caFile, VAULT_NAMESPACE: "team-a" }));
      expect(r.status).toBe(200);
      expect(r.health?.version).toBe("2.6.2");
      expect(bao.requests.at(-1)!.headers["x-vault-namespace"]).toBeUndefined();
    } finally {
      await bao.stop();
    }
  });

  test("Vault's error text, status and path; never the token", async () => {
    const err = await vaultApi(client()).lookupSelf("hvs.notAToken").catch((e) => e);
    expect(err).toBeInstanceOf(VaultResponseError);
    expect(err.status).toBe(403);
    expect(err.message).toBe("Vault GET /v1/auth/token/lookup-self: 403 permission denied; invalid token");
    expect(err.message).not.toContain("hvs.notAToken");
  });

  test("revoke-accessor: an unknown accessor counts as done", async () => {
    expect(await vaultApi(client()).revokeAccessor(vault.rootToken, "AAAAAAAAAAAAAAAAAAAAAAAA")).toBe(false);
    const t = vault.createToken({ policies: ["app"] });
    expect(await vaultApi(client()).revokeAccessor(vault.rootToken, t.accessor)).toBe(true);
    expect(vault.lookup(t.token)).toBeUndefined();
  });

  test("readRole: null for a missing role", async () => {
    expect(await vaultApi(client()).readRole(vault.rootToken, "nope")).toBeNull();
  });
});

describe("retry ladder", () => {
  const client = (deps: ClientDeps, extra: Record<string, string> = {}) =>
    createVaultClient(cfg({ VAULT_ADDR: vault.url, VAULT_CACERT: pki.caFile, ...extra }), deps);

  test("retries 503 twice with linear jittered backoff, then succeeds", async () => {
    vault.clearFaults();
    vault.clearRequests();
    vault.inject({ path: "auth/token/lookup-self", status: 503, errors: ["Vault is sealed"], times: 2 });
    const { waits, sleep } = recordingSleep();
    expect((await vaultApi(client({ sleep, random: () => 0.5 })).lookupSelf(vault.rootToken)).policies).toEqual(["root"]);
    expect(waits).toEqual([1250, 2500]);
    expect(vault.requests.filter((r) => r.path === "auth/token/lookup-self")).toHaveLength(3);
  });

  test("gives up after VAULT_MAX_RETRIES with the last error", async () => {
    vault.clearFaults();
    vault.inject({ path: "auth/token/lookup-self", status: 500, errors: ["internal error"], times: 5 });
    const { waits, sleep } = recordingSleep();
    const err = await vaultApi(client({ sleep })).lookupSelf(vault.rootToken).catch((e) => e);
    expect(err).toBeInstanceOf(VaultResponseError);
    expect(err.message).toBe("Vault GET /v1/auth/token/lookup-self: 500 internal error");
    expect(waits).toHaveLength(2);
    vault.clearFaults();
  });

  test("honours Retry-After on 429", async () => {
    vault.clearFaults();
    vault.inject({ path: "auth/token/lookup-self", status: 429, errors: ["rate limit quota exceeded"], headers: { "Retry-After": "3" }, times: 1 });
    const { waits, sleep } = recordingSleep();
    await vaultApi(client({ sleep })).lookupSelf(vault.rootToken);
    expect(waits).toEqual([3000]);
  });

  test("sys/health states (429 standby, 503 sealed) are data, not retried errors", async () => {
    vault.clearFaults();
    vault.sealed = true;
    const { waits, sleep } = recordingSleep();
    const res = await vaultApi(client({ sleep })).health();
    vault.sealed = false;
    expect(res.status).toBe(503);
    expect(res.health?.sealed).toBe(true);
    expect(waits).toEqual([]);
  });

  test("does not retry 400 or 403", async () => {
    const { waits, sleep } = recordingSleep();
    await expect(vaultApi(client({ sleep })).createToken(vault.rootToken, "nope", { policies: ["x"], display_name: "t" }, undefined)).rejects.toThrow("400 unknown role nope");
    expect(waits).toEqual([]);
  });

  test("retries a dropped connection, as a network error", async () => {
    vault.clearFaults();
    const t = vault.createToken({ policies: ["app"] });
    vault.inject({ path: "auth/token/revoke-accessor", drop: true, times: 1 });
    const { waits, sleep } = recordingSleep();
    expect(await vaultApi(client({ sleep })).revokeAccessor(vault.rootToken, t.accessor)).toBe(true);
    expect(waits).toHaveLength(1);
    vault.inject({ path: "auth/token/revoke-accessor", drop: true, times: 1 });
    await expect(vaultApi(client({ sleep }, { VAULT_MAX_RETRIES: "0" })).revokeAccessor(vault.rootToken, t.accessor)).rejects.toBeInstanceOf(VaultNetworkError);
  });

  test("token create (not idempotent) is retried only when Vault cannot have acted on it", async () => {
    vault.writeRole("r", { allowed_policies: ["app"], orphan: true } as never);
    const create = (deps: ClientDeps) => vaultApi(client(deps)).createToken(vault.rootToken, "r", { policies: ["app"], display_name: "t" }, undefined);
    const creates = () => vault.requests.filter((r) => r.path === "auth/token/create/r").length;
    for (const fault of [{ status: 500, errors: ["internal error"] }, { status: 502, body: "bad gateway" }, { drop: true }]) {
      vault.clearFaults();
      vault.clearRequests();
      vault.inject({ path: "auth/token/create/r", times: 1, ...fault });
      const { waits, sleep } = recordingSleep();
      await expect(create({ sleep })).rejects.toThrow();
      expect([creates(), waits.length]).toEqual([1, 0]);
    }
    vault.clearRequests();
    vault.inject({ path: "auth/token/create/r", times: 1, status: 503, errors: ["Vault is sealed"] });
    const { sleep } = recordingSleep();
    expect((await create({ sleep })).auth?.policies).toEqual(["app", "default"]);
    expect(creates()).toBe(2);
  });

  test("revoke-accessor: a 400 'token not found' (index outlived the token) counts as done", async () => {
    vault.clearFaults();
    vault.inject({ path: "auth/token/revoke-accessor", times: 1, status: 400, errors: ["token not found"] });
    expect(await vaultApi(client({})).revokeAccessor(vault.rootToken, "AAAAAAAAAAAAAAAAAAAAAAAA")).toBe(false);
  });

  test("a closed port is a network error naming the path", async () => {
    const err = await health(cfg({ VAULT_ADDR: "https://127.0.0.1:9", VAULT_MAX_RETRIES: "0" })).catch((e) => e);
    expect(err).toBeInstanceOf(VaultNetworkError);
    expect(err.message).toMatch(/^Vault GET \/v1\/sys\/health: cannot reach Vault \(/);
  });

  test("one deadline covers the whole call", async () => {
    vault.clearFaults();
    vault.inject({ path: "sys/health", hang: true, times: 1 });
    const started = Date.now();
    const err = await vaultApi(client({}, { VAULT_CLIENT_TIMEOUT: "300ms" })).health().catch((e) => e);
    expect(err).toBeInstanceOf(VaultTimeoutError);
    expect(err.message).toBe("Vault GET /v1/sys/health: no answer within 0.3s (VAULT_CLIENT_TIMEOUT)");
    expect(Date.now() - started).toBeLessThan(2000);
    vault.releaseHung();
  });

  test("an outside abort (SIGTERM) stops the call", async () => {
    vault.inject({ path: "sys/health", hang: true, times: 1 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(vaultApi(client({ signal: controller.signal })).health()).rejects.toBeInstanceOf(VaultInterruptedError);
    vault.releaseHung();
  });
});

describe("redirects", () => {
  test("follows one standby redirect to the active node", async () => {
    vault.clearFaults();
    vault.clearRequests();
    vault.inject({ path: "sys/health", status: 307, body: "", headers: { Location: `${vault.url}/v1/sys/health` }, times: 1 });
    const res = await health(cfg({ VAULT_ADDR: vault.url, VAULT_CACERT: pki.caFile }));
    expect(res.status).toBe(200);
    expect(vault.requests.filter((r) => r.path === "sys/health")).toHaveLength(2);
  });

  test("refuses an https → http downgrade", async () => {
    vault.inject({ path: "sys/health", status: 307, body: "", headers: { Location: "http://127.0.0.1:1/v1/sys/health" }, times: 1 });
    await expect(health(cfg({ VAULT_ADDR: vault.url, VAULT_CACERT: pki.caFile }))).rejects.toThrow("redirect would cause protocol downgrade");
  });
});

test("VAULT_ADDR=unix:///path talks HTTP over that socket (a Vault Agent or proxy listener)", async () => {
  const socketPath = join(tmpdir(), `vaulttmpfs-test-${process.pid}.sock`);
  const agent = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey }, tls_disabled: true, socketPath });
  try {
    const api = vaultApi(createVaultClient(cfg({ VAULT_ADDR: agent.url })));
    expect((await api.health()).health?.initialized).toBe(true);
    expect((await api.lookupSelf(agent.rootToken)).policies).toEqual(["root"]);
    expect(agent.requests.at(-1)?.headers["x-vault-request"]).toBe("true");
  } finally {
    await agent.stop();
  }
  // a socket that is not there: a connect-phase error, so even token create may retry it
  const err = await vaultApi(createVaultClient(cfg({ VAULT_ADDR: `unix://${socketPath}`, VAULT_MAX_RETRIES: "0" }))).health().catch((e) => e);
  expect(err).toBeInstanceOf(VaultNetworkError);
  expect(err.code).toBe("ENOENT");
});

test("flattenGoMultiError", () => {
  expect(flattenGoMultiError("1 error occurred:\n\t* permission denied\n\n")).toBe("permission denied");
  expect(flattenGoMultiError("2 errors occurred:\n\t* a\n\t* b\n\n")).toBe("a; b");
  expect(flattenGoMultiError("unknown role x")).toBe("unknown role x");
});

describe("response size ceiling", () => {
  /** A plain-HTTP server that answers 200 with a chunked body that never ends (or with `size` bytes). */
  function streamingServer(size = Number.POSITIVE_INFINITY) {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              if (sent >= size) return controller.close();
              sent += chunk.byteLength;
              controller.enqueue(chunk);
            },
          }),
          { headers: { "content-type": "application/json" } },
        ),
    });
    return { url: `http://127.0.0.1:${server.port}`, sent: () => sent, stop: () => server.stop(true) };
  }

  test("an endless chunked body fails fast with a clear error, not after the deadline with GiBs read", async () => {
    const server = streamingServer();
    try {
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const err = await health(cfg({ VAULT_ADDR: server.url, VAULT_CLIENT_TIMEOUT: "10s", VAULT_MAX_RETRIES: "2" })).catch((e) => e);
      expect(err).toBeInstanceOf(VaultResponseTooLargeError);
      expect(err.message).toContain("Vault GET /v1/sys/health: the response body exceeds 1024 KiB");
      expect(performance.now() - started).toBeLessThan(3000);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 << 20);
    } finally {
      server.stop();
    }
  });

  test("a body just under the ceiling is read whole (then fails as JSON, not as size)", async () => {
    const server = streamingServer(MAX_RESPONSE_BYTES - 64 * 1024);
    try {
      const err = await health(cfg({ VAULT_ADDR: server.url, VAULT_MAX_RETRIES: "0" })).catch((e) => e);
      expect(err).not.toBeInstanceOf(VaultResponseTooLargeError);
    } finally {
      server.stop();
    }
  });
});
