import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../config.ts";
import { ConfigError } from "../../errors.ts";
import type { HealthStatus, LookupSelfData, RoleData } from "../../vault/api.ts";
import { VaultNetworkError, VaultResponseError, VaultTimeoutError, VaultTlsError } from "../../vault/errors.ts";
import { generatorNeeds } from "./capabilities.ts";
import { checkCapabilities, checkConfig, checkRole, checkTenancy, checkToken, checkTokenFile, checkTls, checkVault, type HealthProbe } from "./checks.ts";

const vault = (env: Record<string, string> = {}) => loadConfig({ VAULT_ADDR: "https://vault:8200", VAULT_CACERT: "/etc/ca.pem", ...env }).vault;
const healthy: HealthStatus = { initialized: true, sealed: false, standby: false, version: "1.17.0" };
const answered = (health: Partial<HealthStatus> | null, status = 200): HealthProbe => ({ ok: true, value: { status, health: health && { ...healthy, ...health } }, ms: 3 });
const failed = (error: unknown): HealthProbe => ({ ok: false, error, ms: 3 });
const tlsError = new VaultTlsError("GET", "/v1/sys/health", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", null);
const refused = new VaultNetworkError("GET", "/v1/sys/health", "ECONNREFUSED", null);
const denied = (status = 403, text = "permission denied") => new VaultResponseError("GET", "/v1/x", status, [text], false);

test("checkConfig: fails naming the variable to fix", () => {
  const r = checkConfig({ ok: false, error: new ConfigError("VAULT_MAX_RETRIES", "could not parse") });
  expect(r).toMatchObject({ status: "fail", detail: "VAULT_MAX_RETRIES: could not parse" });
  expect(r.fix).toContain("VAULT_MAX_RETRIES");
});

describe("checkTls", () => {
  test.each([
    ["verified with the CA file", {}, answered({}), "ok", "VAULT_CACERT=/etc/ca.pem"],
    ["a TLS failure names the CA and the server name", {}, failed(tlsError), "fail", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
    ["an unreadable CA file is a TLS failure naming the variable", {}, failed(new ConfigError("VAULT_CACERT", "cannot read /etc/ca.pem: ENOENT")), "fail", "VAULT_CACERT"],
    ["no answer at all: cannot tell", {}, failed(refused), "skip", "did not answer"],
    ["skip-verify warns", { VAULT_SKIP_VERIFY: "true" }, answered({}), "warn", "VAULT_SKIP_VERIFY is on"],
    ["plain http warns", { VAULT_ADDR: "http://vault:8200" }, answered({}), "warn", "plain http"],
    ["a unix socket needs no TLS", { VAULT_ADDR: "unix:///run/vault.sock" }, answered({}), "ok", "unix socket"],
  ] as const)("%s", (_name, env, probe, status, text) => {
    const r = checkTls(vault(env), probe);
    expect(r.status).toBe(status);
    expect(`${r.detail} ${r.fix ?? ""}`).toContain(text);
  });

  test("the fix of a TLS failure names VAULT_CACERT and VAULT_TLS_SERVER_NAME", () => {
    expect(checkTls(vault({ VAULT_TLS_SERVER_NAME: "vault.test" }), failed(tlsError)).fix).toMatch(/VAULT_CACERT.*VAULT_TLS_SERVER_NAME \(vault\.test\)/);
  });
});

describe("checkVault", () => {
  test.each([
    ["active and unsealed", answered({}), "ok", "initialized, unsealed, active, version 1.17.0"],
    ["sealed", answered({ sealed: true, standby: true }, 503), "fail", "SEALED"],
    ["not initialized", answered({ initialized: false }, 501), "fail", "NOT initialized"],
    ["standby", answered({ standby: true }, 429), "warn", "standby"],
    ["DR secondary", answered({}, 472), "fail", "DR secondary"],
    ["no health body", answered(null, 200), "fail", "no health data"],
    ["connection refused", failed(refused), "fail", "cannot reach https://vault:8200 (ECONNREFUSED)"],
    ["timeout", failed(new VaultTimeoutError("GET", "/v1/sys/health", 5000)), "fail", "no answer from https://vault:8200 within 1m"],
    ["not Vault", failed(denied(404, "not found")), "fail", "answered sys/health with 404: not found"],
    ["TLS failed: reported by the tls check instead", failed(tlsError), "skip", "TLS failed"],
  ] as const)("%s", (_name, probe, status, text) => {
    const r = checkVault(vault(), probe);
    expect(r.status).toBe(status);
    expect(r.detail).toContain(text);
    if (status === "fail" || status === "warn") expect(r.fix).toBeTruthy();
  });
});

describe("checkTokenFile", () => {
  // The driver's rule: owned by the effective uid (root, where doctor runs).
  const root = process.geteuid?.() ?? 0;
  const generator = { path: "/etc/kubernetes/vaulttoken", kind: "generator" } as const;
  const revokeOnly = { path: "/etc/kubernetes/vaulttoken-revoke", kind: "revoke-only" } as const;
  test.each([
    ["root-owned 0600", { uid: root, mode: 0o100600, isFile: true }, "ok"],
    ["root-owned 0640", { uid: root, mode: 0o100640, isFile: true }, "ok"],
    ["world-readable", { uid: root, mode: 0o100644, isFile: true }, "fail"],
    ["world-writable only", { uid: root, mode: 0o100602, isFile: true }, "fail"],
    ["owned by a user: the driver refuses it", { uid: root + 1000, mode: 0o100600, isFile: true }, "fail"],
    ["group-writable: the driver refuses it", { uid: root, mode: 0o100660, isFile: true }, "fail"],
    ["a directory", { uid: root, mode: 0o40700, isFile: false }, "fail"],
    ["missing", { code: "ENOENT" }, "fail"],
    ["unreadable dir", { code: "EACCES" }, "fail"],
  ] as const)("%s → %s", (_name, facts, status) => {
    expect(checkTokenFile(generator, facts).status).toBe(status);
  });

  test("a missing file says to run bootstrap", () => {
    expect(checkTokenFile(generator, { code: "ENOENT" })).toMatchObject({ detail: "no generator token at /etc/kubernetes/vaulttoken", fix: "create it: vaulttmpfs bootstrap (or set VAULTTMPFS_GENERATOR_TOKEN_PATH)" });
  });

  test("doctor fails exactly what the driver refuses, with the driver's words: one rule", () => {
    expect(checkTokenFile(generator, { uid: root, mode: 0o100644, isFile: true })).toEqual({
      name: "token-file", status: "fail",
      detail: "the generator token /etc/kubernetes/vaulttoken is mode 0644, open to every user on the node: the driver refuses it",
      fix: "chmod 0600 /etc/kubernetes/vaulttoken, then consider it leaked: vaulttmpfs bootstrap --force",
    });
  });

  test("in pod identity mode the file is the revoke-only token, made by bootstrap --revoke-only", () => {
    expect(checkTokenFile(revokeOnly, { code: "ENOENT" })).toMatchObject({ detail: "no revoke-only token at /etc/kubernetes/vaulttoken-revoke", fix: "create it: vaulttmpfs bootstrap --revoke-only (or set VAULTTMPFS_REVOKE_TOKEN_PATH)" });
    expect(checkTokenFile(revokeOnly, { uid: root, mode: 0o100660, isFile: true })).toMatchObject({ detail: expect.stringContaining("the revoke-only token /etc/kubernetes/vaulttoken-revoke is mode 0660, open to its group for writing"), fix: expect.stringContaining("vaulttmpfs bootstrap --revoke-only --force") });
  });
});

describe("checkToken", () => {
  const token = (t: Partial<LookupSelfData>): LookupSelfData => ({
    accessor: "acc", ttl: 86000, period: 86400, renewable: true, policies: ["applications_token_creator", "default"],
    orphan: true, expire_time: "2030-01-01T00:00:00Z", display_name: "token-vaulttmpfs-n1", meta: null, ...t,
  });
  test.each([
    ["periodic and renewable", token({}), "ok", "ttl 23h53m20s, periodic 24h, renewable, policies applications_token_creator, default"],
    ["short TTL but periodic", token({ ttl: 60 }), "ok", "periodic"],
    ["short TTL, not periodic", token({ ttl: 600, period: 0 }), "warn", "expires in 10m"],
    ["not renewable, not periodic", token({ ttl: 90000, period: 0, renewable: false }), "warn", "not renewable"],
    ["never expires", token({ ttl: 0, period: 0, expire_time: null }), "warn", "never expires"],
    ["root", token({ policies: ["root"], expire_time: null, ttl: 0 }), "fail", "root token"],
  ] as const)("%s → %s", (_name, data, status, text) => {
    const r = checkToken({ ok: true, value: data }, { path: "/t", kind: "generator" });
    expect(r.status).toBe(status);
    expect(r.detail).toContain(text);
  });

  test("revoked or expired: fail with Vault's text and the bootstrap fix", () => {
    const r = checkToken({ ok: false, error: denied(403, "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n") }, { path: "/t", kind: "generator" });
    expect(r).toMatchObject({ status: "fail", fix: "create a new one: vaulttmpfs bootstrap --force" });
    expect(r.detail).toContain("permission denied; invalid token");
    const revokeOnly = checkToken({ ok: false, error: denied(403, "permission denied") }, { path: "/t", kind: "revoke-only" });
    expect(revokeOnly).toMatchObject({ detail: expect.stringContaining("Vault refuses the revoke-only token"), fix: "create a new one: vaulttmpfs bootstrap --revoke-only --force" });
  });
});

describe("checkCapabilities", () => {
  const needs = generatorNeeds("applications");
  const caps = (create: string[]) => ({ ok: true as const, value: { "auth/token/create/applications": create, "auth/token/revoke-accessor": ["update"], "auth/token/renew-self": ["update"] } });

  test("all granted", () => expect(checkCapabilities("applications", needs, caps(["create", "update"])).status).toBe("ok"));

  test("create denied: fail naming the path", () => {
    const r = checkCapabilities("applications", needs, caps(["deny"]));
    expect(r.status).toBe("fail");
    expect(r.detail).toBe("the generator token may not: create or update on auth/token/create/applications (mint pod tokens)");
  });

  test("a templated role denied for the sample only warns", () => {
    const tpl = generatorNeeds("k8s-{namespace}");
    const r = checkCapabilities("k8s-{namespace}", tpl, { ok: true, value: { "auth/token/revoke-accessor": ["update"], "auth/token/renew-self": ["update"] } });
    expect(r.status).toBe("warn");
    expect(r.detail).toContain("k8s-default");
  });

  test("sys/capabilities-self itself denied: warn, cannot tell", () => {
    expect(checkCapabilities("applications", needs, { ok: false, error: denied() }).status).toBe("warn");
  });
});

describe("checkRole", () => {
  const role = (r: Partial<RoleData>): RoleData => ({
    name: "applications", allowed_policies: ["app"], allowed_policies_glob: [], disallowed_policies: ["root"], disallowed_policies_glob: [],
    orphan: true, renewable: true, token_period: 3600, token_explicit_max_ttl: 0, ...r,
  });
  test.each([
    ["the seed's role", role({}), "ok", undefined],
    ["not orphan", role({ orphan: false }), "warn", "orphan=true"],
    ["no period, no max TTL", role({ token_period: 0 }), "warn", "token_period=1h"],
    ["explicit max TTL instead of a period", role({ token_period: 0, token_explicit_max_ttl: 7200 }), "ok", undefined],
    ["no allowed policies", role({ allowed_policies: [] }), "warn", "allowed_policies="],
    ["glob-only allowed policies", role({ allowed_policies: [], allowed_policies_glob: ["team-*"] }), "ok", undefined],
  ] as const)("%s → %s", (_name, data, status, fix) => {
    const r = checkRole("applications", { ok: true, value: data }, "generator token");
    expect(r.status).toBe(status);
    if (fix) expect(r.fix).toContain(`vault write auth/token/roles/applications ${fix}`);
  });

  test("missing role: fail with the vault write fix", () => {
    const r = checkRole("applications", { ok: true, value: null }, "generator token");
    expect(r.status).toBe("fail");
    expect(r.fix).toStartWith("vault write auth/token/roles/applications");
  });

  test("unreadable role warns; a template is skipped", () => {
    expect(checkRole("applications", { ok: false, error: denied() }, "generator token").status).toBe("warn");
    expect(checkRole("k8s-{namespace}", "template", "").status).toBe("skip");
  });
});

describe("checkTenancy", () => {
  test("warns when a placeholder can run into another namespace's names", () => {
    const r = checkTenancy(loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}", VAULTTMPFS_ALLOWED_POLICIES: "{namespace}-*,shared-read" }));
    expect(r.status).toBe("warn");
    expect(r.detail).toStartWith("{namespace}-*: a placeholder is followed by");
    expect(r.fix).toContain("{namespace}.*");
  });
  test("fails (not warns) when two tenants can reach one role through VAULTTMPFS_ALLOWED_ROLES", () => {
    const r = checkTenancy(loadConfig({ VAULTTMPFS_ROLE_NAME: "apps", VAULTTMPFS_ALLOWED_ROLES: "{namespace}-*" }));
    expect(r.status).toBe("fail");
    expect(r.detail).toStartWith("roles {namespace}-*: ");
  });
  test("in pod identity mode the login role is judged, not the ignored VAULTTMPFS_ROLE_NAME", () => {
    const env = { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_LOGIN_ROLE: "k8s_{namespace}", VAULTTMPFS_ROLE_NAME: "apps", VAULTTMPFS_ALLOWED_ROLES: "k8s_{namespace}" };
    expect(checkTenancy(loadConfig(env))).toMatchObject({ status: "ok", detail: expect.stringContaining("login role k8s_{namespace}") });
    expect(checkTenancy(loadConfig({ ...env, VAULTTMPFS_ALLOWED_ROLES: "{namespace}-*" }))).toMatchObject({ status: "fail", fix: expect.stringContaining("VAULTTMPFS_LOGIN_ROLE=") });
  });
  test("a colliding role template does not even load", () => {
    expect(() => loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}-{serviceaccount}" })).toThrow(/gives two different tenants the same role/);
    expect(() => loadConfig({ VAULTTMPFS_ROLE_NAME: "{namespace}{serviceaccount}" })).toThrow(/same role/);
    expect(loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s_{namespace}_{serviceaccount}" }).roleName).toBe("k8s_{namespace}_{serviceaccount}");
    expect(loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}-apps" }).roleName).toBe("k8s-{namespace}-apps");
  });
  test("ok with separators namespaces cannot contain, and says what pods may get", () => {
    expect(checkTenancy(loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}", VAULTTMPFS_ALLOWED_POLICIES: "{namespace}.*" }))).toEqual({
      name: "tenancy", status: "ok", detail: "pods may request policies matching {namespace}.*; role k8s-{namespace} (no vault/role override)",
    });
    expect(checkTenancy(loadConfig({})).detail).toBe("pods may request any policy the role allows (VAULTTMPFS_ALLOWED_POLICIES=*); role applications");
  });
});
