/**
 * The Vault emulator over real TLS, exercised with plain fetch: exact bodies and status
 * codes from the spec (shared/specs/vault-api.md), wrapping, ACL, faults, mTLS, health.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "../support/certs.ts";
import { VaultEmulator } from "./index.ts";

let pki: TestPki;
let v: VaultEmulator;
let gen: { token: string; accessor: string };

interface Res { status: number; text: string; json: any; headers: Headers }

async function call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string>; emulator?: VaultEmulator; signal?: AbortSignal } = {}): Promise<Res> {
  const headers: Record<string, string> = { "X-Vault-Request": "true", ...opts.headers };
  if (opts.token !== undefined) headers["X-Vault-Token"] = opts.token;
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await fetch(`${(opts.emulator ?? v).url}/v1/${path}`, {
    method, headers, tls: { ca: pki.ca }, ...(body === undefined ? {} : { body }), ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, text, json, headers: res.headers };
}

const errors = (...e: string[]) => JSON.stringify({ errors: e }) + "\n";

beforeAll(async () => {
  pki = await makeTestPki(join(tmpdir(), "vaulttmpfs-emulator-test-pki"));
  v = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
  v.writeRole("applications", {
    allowed_policies: "app,app-read,shared-read", disallowed_policies: ["root", "admin"], orphan: true, renewable: true, token_period: 3600,
  });
  v.writeRole("app-role", { allowed_policies: ["app"] });
  gen = v.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true });
});
afterAll(() => v?.stop());

describe("roles", () => {
  test("write, read, list and delete through the API", async () => {
    expect((await call("POST", "auth/token/roles/tmp-role", { token: v.rootToken, body: { allowed_policies: "b,A", token_period: "1h" } })).status).toBe(204);
    const read = await call("GET", "auth/token/roles/tmp-role", { token: v.rootToken });
    expect(read.json.data).toEqual({
      allowed_entity_aliases: null, allowed_policies: ["a", "b"], allowed_policies_glob: [], disallowed_policies: [],
      disallowed_policies_glob: [], explicit_max_ttl: 0, name: "tmp-role", orphan: false, path_suffix: "", period: 0,
      renewable: true, token_explicit_max_ttl: 0, token_no_default_policy: false, token_period: 3600, token_type: "default-service",
    });
    expect(read.text).toContain('"data":{"allowed_entity_aliases":null,"allowed_policies":["a","b"],');
    expect((await call("GET", "auth/token/roles?list=true", { token: v.rootToken })).json.data.keys).toEqual(["app-role", "applications", "tmp-role"]);
    const warned = await call("POST", "auth/token/roles/tmp-role", { token: v.rootToken, body: { period: 10, token_period: 20 } });
    expect(warned.json.warnings).toEqual(["Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"]);
    expect((await call("DELETE", "auth/token/roles/tmp-role", { token: v.rootToken })).status).toBe(204);
    expect((await call("GET", "auth/token/roles/tmp-role", { token: v.rootToken })).text).toBe('{"errors":[]}\n');
    expect((await call("GET", "auth/token/roles/applications", { token: gen.token })).status).toBe(200);
  });
});

describe("token create against a role", () => {
  test("periodic orphan with the role's policies; the Go client's body is accepted without warnings", async () => {
    const r = await call("POST", "auth/token/create/applications", {
      token: gen.token,
      raw: '{"policies":["app"],"meta":{"service":"billing"},"ttl":"1h","display_name":"billing","num_uses":0,"renewable":true,"type":"","entity_alias":""}',
    });
    expect(r.status).toBe(200);
    expect(r.text.endsWith("}\n")).toBe(true);
    expect(Object.keys(r.json)).toEqual(["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth", "mount_type"]);
    expect(Object.keys(r.json.auth)).toEqual(["client_token", "accessor", "policies", "token_policies", "metadata", "lease_duration", "renewable", "entity_id", "token_type", "orphan", "mfa_requirement", "num_uses"]);
    expect(r.json.auth).toMatchObject({ policies: ["app", "default"], metadata: { service: "billing" }, lease_duration: 3600, renewable: true, orphan: true, token_type: "service" });
    expect(r.json.auth.client_token).toMatch(/^hvs\.[A-Za-z0-9]{24}$/);
    expect(r.json.auth.accessor).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(r.json.warnings).toBeNull();
    expect(r.json.mount_type).toBe("token");
    const te = v.lookup(r.json.auth.client_token);
    expect(te).toMatchObject({ role: "applications", period: 3600, orphan: true, displayName: "token-billing", path: "auth/token/create/applications" });
  });

  test("no policies requested → the role's allowed policies plus default", async () => {
    const r = await call("POST", "auth/token/create/applications", { token: gen.token, body: {} });
    expect(r.json.auth.policies).toEqual(["app", "app-read", "default", "shared-read"]);
  });

  test("policy-subset error, byte for byte", async () => {
    const r = await call("POST", "auth/token/create/app-role", { token: v.rootToken, body: { policies: ["admin"] } });
    expect(r.status).toBe(400);
    expect(r.text).toBe(String.raw`{"errors":["token policies ([\"admin\" \"default\"]) must be subset of the role's allowed policies ([\"app\" \"default\"]) or glob policies ([])"]}` + "\n");
  });

  test.each([
    ["unknown role", "auth/token/create/nope", { policies: ["app"] }, "unknown role nope"],
    ["period without sudo", "auth/token/create/applications", { period: "1h" }, "root or sudo privileges required to create periodic token"],
    ["bad ttl", "auth/token/create/applications", { ttl: "abc" }, 'time: invalid duration "abc"'],
    ["negative uses", "auth/token/create/applications", { num_uses: -1 }, "number of uses cannot be negative"],
  ])("%s → 400", async (_name, path, body, message) => {
    const r = await call("POST", path, { token: gen.token, body });
    expect(r.status).toBe(400);
    expect(r.text).toBe(errors(message));
  });

  test("a sudo (non-root) caller may create periodic orphans but never root tokens", async () => {
    const { token } = v.createToken({ policies: ["sudo-token-creator"] });
    const r = await call("POST", "auth/token/create", { token, body: { policies: ["app"], period: "2h", no_parent: true } });
    expect(r.json.auth).toMatchObject({ policies: ["app", "default"], lease_duration: 7200, orphan: true });
    const root = await call("POST", "auth/token/create", { token, body: { policies: ["root"] } });
    expect(root.text).toBe(errors("root tokens may not be created without parent token being root"));
    const orphan = await call("POST", "auth/token/create", { token: gen.token, body: { no_parent: true } });
    expect(orphan.status).toBe(403); // the generator's ACL does not cover auth/token/create
  });

  test("disallowed policy, and unrecognized parameters warn", async () => {
    v.writeRole("deny-admin", { disallowed_policies: "admin" });
    const r = await call("POST", "auth/token/create/deny-admin", { token: v.rootToken, body: { policies: ["admin"] } });
    expect(r.text).toBe(errors('token policy "admin" is disallowed by this role'));
    const w = await call("POST", "auth/token/create/app-role", { token: v.rootToken, body: { metadata: { a: "b" }, zz: 1 } });
    expect(w.json.warnings).toEqual(["Endpoint ignored these unrecognized parameters: [metadata zz]"]);
  });
});

describe("response wrapping", () => {
  test("wrapped create → lookup → unwrap once (stored JSON verbatim) → 400", async () => {
    const r = await call("POST", "auth/token/create/applications", { token: gen.token, body: { policies: ["app"] }, headers: { "X-Vault-Wrap-TTL": "5m" } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ request_id: "", data: null, warnings: null, auth: null, mount_type: "" });
    expect(Object.keys(r.json.wrap_info)).toEqual(["token", "accessor", "ttl", "creation_time", "creation_path", "wrapped_accessor"]);
    expect(r.json.wrap_info).toMatchObject({ ttl: 300, creation_path: "auth/token/create/applications" });
    const wt = r.json.wrap_info.token;
    const wrapping = v.lookup(wt);
    expect(wrapping).toMatchObject({ isWrapping: true, policies: ["response-wrapping"], numUses: 1, ttl: 300 });

    const look = await call("POST", "sys/wrapping/lookup", { body: { token: wt } });
    expect(look.json.data).toEqual({ creation_path: "auth/token/create/applications", creation_time: r.json.wrap_info.creation_time, creation_ttl: 300 });
    expect(look.json.mount_type).toBe("");

    const un = await call("PUT", "sys/wrapping/unwrap", { token: wt });
    expect(un.status).toBe(200);
    expect(un.text).toBe(wrapping?.wrapped?.response ?? "missing");
    expect(un.text.endsWith("}")).toBe(true);
    expect(un.json.auth.accessor).toBe(r.json.wrap_info.wrapped_accessor);
    expect(un.json.request_id).not.toBe("");
    expect(v.lookup(un.json.auth.client_token)?.policies).toEqual(["app", "default"]);

    const again = await call("PUT", "sys/wrapping/unwrap", { token: wt });
    expect(again.status).toBe(400);
    expect(again.text).toBe(errors("wrapping token is not valid or does not exist"));
  });

  test("unwrap with the wrapping token in the body, and the token errors", async () => {
    const w = await call("POST", "sys/wrapping/wrap", { token: v.rootToken, body: { b: 1, a: "x" }, headers: { "X-Vault-Wrap-TTL": "60" } });
    expect(w.json.wrap_info.wrapped_accessor).toBeUndefined();
    const un = await call("PUT", "sys/wrapping/unwrap", { token: v.rootToken, body: { token: w.json.wrap_info.token } });
    expect(un.json.data).toEqual({ a: "x", b: 1 });
    expect((await call("PUT", "sys/wrapping/unwrap", {})).text).toBe(errors("error validating wrapping token: token is empty"));
    expect((await call("PUT", "sys/wrapping/unwrap", { body: { token: "" } })).status).toBe(403);
    expect((await call("PUT", "sys/wrapping/unwrap", { token: gen.token })).text).toBe(errors("wrapping token is not valid or does not exist"));
  });

  test.each([
    ["abc", 'error parsing X-Vault-Wrap-TTL header: time: invalid duration "abc"'],
    ["5M", 'error parsing X-Vault-Wrap-TTL header: time: unknown unit "M" in duration "5M"'],
    ["-5", "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative"],
  ])("wrap TTL %p → 400", async (ttl, message) => {
    const r = await call("GET", "auth/token/lookup-self", { token: gen.token, headers: { "X-Vault-Wrap-TTL": ttl } });
    expect(r.status).toBe(400);
    expect(r.text).toBe(errors(message));
  });

  test('wrap TTL "0" means no wrapping; a wrapping token expires on the emulator clock', async () => {
    expect((await call("GET", "auth/token/lookup-self", { token: gen.token, headers: { "X-Vault-Wrap-TTL": "0" } })).json.wrap_info).toBeNull();
    const r = await call("GET", "auth/token/lookup-self", { token: gen.token, headers: { "X-Vault-Wrap-TTL": "1m" } });
    v.advanceClock(61);
    expect((await call("PUT", "sys/wrapping/unwrap", { token: r.json.wrap_info.token })).status).toBe(400);
  });
});

describe("lookup, renew, revoke", () => {
  test("lookup-self data keys and values", async () => {
    const { token } = v.createToken({ policies: ["app"], ttl: 600, meta: { pod: "x" }, displayName: "my pod!" });
    const r = await call("GET", "auth/token/lookup-self", { token });
    expect(Object.keys(r.json.data)).toEqual(["accessor", "creation_time", "creation_ttl", "display_name", "entity_id", "expire_time", "explicit_max_ttl", "id", "issue_time", "meta", "num_uses", "orphan", "path", "policies", "renewable", "ttl", "type"]);
    expect(r.json.data).toMatchObject({ id: token, creation_ttl: 600, display_name: "token-my-pod", meta: { pod: "x" }, orphan: false, path: "auth/token/create", policies: ["app", "default"], renewable: true, type: "service" });
    expect(r.json.data.expire_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const root = await call("GET", "auth/token/lookup-self", { token: v.rootToken });
    expect(root.json.data).toMatchObject({ policies: ["root"], expire_time: null, ttl: 0, path: "auth/token/root" });
    expect(root.json.data.renewable).toBeUndefined();
    const acc = await call("POST", "auth/token/lookup-accessor", { token: v.rootToken, body: { accessor: r.json.data.accessor } });
    expect(acc.json.data.id).toBe("");
  });

  test("renew-self of a periodic role token resets the TTL to the role's current period", async () => {
    const c = await call("POST", "auth/token/create/applications", { token: gen.token, body: { policies: ["app"] } });
    const token = c.json.auth.client_token;
    v.advanceClock(2400);
    expect((await call("GET", "auth/token/lookup-self", { token })).json.data.ttl).toBeLessThanOrEqual(1200);
    const r = await call("PUT", "auth/token/renew-self", { token, body: { increment: 0 } });
    expect(r.json.auth).toMatchObject({ client_token: token, lease_duration: 3600, renewable: true });
    const after = await call("GET", "auth/token/lookup-self", { token });
    expect(after.json.data.ttl).toBeGreaterThanOrEqual(3599);
    expect(after.json.data.last_renewal_time).toBeNumber();
    v.writeRole("applications", { token_period: 600 });
    expect((await call("PUT", "auth/token/renew-self", { token, body: { increment: 0 } })).json.auth.lease_duration).toBe(600);
    v.writeRole("applications", { token_period: 3600 });
  });

  test("explicit max TTL caps a renewal with Vault's warning", async () => {
    const { token } = v.createToken({ policies: ["app"], period: 3600, explicitMaxTtl: 7200 });
    const renew = () => call("PUT", "auth/token/renew-self", { token, body: { increment: 0 } });
    v.advanceClock(3000);
    expect((await renew()).json.auth.lease_duration).toBe(3600);
    v.advanceClock(3000);
    expect((await renew()).json.auth.lease_duration).toBeWithin(1199, 1201);
    v.advanceClock(600); // 1h50m of the 2h explicit max used
    const r = await renew();
    expect(r.json.auth.lease_duration).toBeWithin(599, 601);
    // CalculateTTL truncates both instants to the second, as Vault does: 10m or 9m59s is left.
    expect(r.json.warnings[0]).toMatch(/^TTL of "1h" exceeded the effective max_ttl of "(10m|9m59s)"; TTL value is capped accordingly$/);
  });

  test("non-renewable and root tokens: lease is not renewable", async () => {
    const { token } = v.createToken({ policies: ["app"], ttl: 60, renewable: false });
    expect((await call("PUT", "auth/token/renew-self", { token, body: { increment: 0 } })).text).toBe(errors("lease is not renewable"));
    expect((await call("PUT", "auth/token/renew-self", { token: v.rootToken })).text).toBe(errors("lease is not renewable"));
  });

  test("revoke-accessor: 204 (children too), 200 with warning, 400", async () => {
    v.writePolicy("child-maker", [{ path: "auth/token/create", capabilities: ["update"] }]);
    const parent = v.createToken({ policies: ["app", "child-maker"], ttl: 600 });
    const child = await call("POST", "auth/token/create", { token: parent.token, body: { policies: ["app"] } });
    expect(child.json.auth).toMatchObject({ orphan: false, policies: ["app", "default"] });
    expect((await call("POST", "auth/token/create", { token: parent.token, body: { policies: ["admin"] } })).text).toBe(errors("child policies must be subset of parent"));
    const r = await call("POST", "auth/token/revoke-accessor", { token: gen.token, body: { accessor: parent.accessor } });
    expect(r.status).toBe(204);
    expect(r.text).toBe("");
    expect(v.lookup(parent.token)).toBeUndefined();
    expect(v.lookup(child.json.auth.client_token)).toBeUndefined();
    const unknown = await call("POST", "auth/token/revoke-accessor", { token: gen.token, body: { accessor: parent.accessor } });
    expect(unknown.status).toBe(200);
    expect(unknown.json).toMatchObject({ data: null, warnings: ["No token found with this accessor"], auth: null, mount_type: "token" });
    expect((await call("POST", "auth/token/revoke-accessor", { token: gen.token, body: {} })).text).toBe(errors("missing accessor"));
  });

  test("revoke-self, num_uses and expiry", async () => {
    const self = v.createToken({ policies: ["app"] });
    expect((await call("PUT", "auth/token/revoke-self", { token: self.token })).status).toBe(204);
    expect(v.lookup(self.token)).toBeUndefined();
    const limited = v.createToken({ policies: ["app"], numUses: 2 });
    expect((await call("GET", "auth/token/lookup-self", { token: limited.token })).json.data.num_uses).toBe(1);
    expect((await call("GET", "auth/token/lookup-self", { token: limited.token })).status).toBe(200);
    expect(v.lookup(limited.token)).toBeUndefined();
    const short = v.createToken({ policies: ["app"], ttl: 30 });
    v.advanceClock(31);
    const gone = await call("GET", "auth/token/lookup-self", { token: short.token });
    expect(gone.status).toBe(403);
    expect(gone.text).toBe(errors("2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"));
  });
});

describe("generic rules", () => {
  test("ACL, missing token, routes, methods, JSON, headers", async () => {
    expect((await call("POST", "auth/token/create", { token: gen.token, body: {} })).text).toBe(errors("1 error occurred:\n\t* permission denied\n\n"));
    expect((await call("GET", "auth/token/lookup-self")).text).toBe(errors("permission denied"));
    expect((await call("GET", "secret/data/x", { token: v.rootToken })).text).toBe(errors('no handler for route "secret/data/x". route entry not found.'));
    const m = await call("GET", "auth/token/create", { token: v.rootToken });
    expect([m.status, m.text]).toEqual([405, errors("1 error occurred:\n\t* unsupported operation\n\n")]);
    expect((await call("POST", "auth/token/create", { token: v.rootToken, raw: "{nope" })).text).toBe(errors("error parsing JSON"));
    const h = await call("GET", "auth/token/lookup-self", { token: gen.token, headers: { "X-Vault-Namespace": "team-a/" } });
    expect(h.headers.get("cache-control")).toBe("no-store");
    expect(h.headers.get("x-vault-namespace")).toBe("team-a/");
    const rec = v.requests.at(-1);
    expect(rec).toMatchObject({ method: "GET", path: "auth/token/lookup-self", status: 200 });
    expect(rec?.headers["x-vault-request"]).toBe("true");
  });

  test("capabilities-self (data and top level)", async () => {
    const r = await call("POST", "sys/capabilities-self", { token: gen.token, body: { paths: ["auth/token/create/applications"] } });
    expect(r.json.data).toEqual({ "auth/token/create/applications": ["create", "update"], capabilities: ["create", "update"] });
    expect(r.json.capabilities).toEqual(["create", "update"]);
    v.writePolicy("kv-read", [{ path: "secret/+/app/*", capabilities: ["read"] }]);
    const { token } = v.createToken({ policies: ["kv-read"] });
    const k = await call("POST", "sys/capabilities-self", { token, body: { paths: ["secret/data/app/x", "secret/data/other"] } });
    expect(k.json.data).toEqual({ "secret/data/app/x": ["read"], "secret/data/other": ["deny"] });
    expect((await call("POST", "sys/capabilities-self", { token: v.rootToken, body: { path: "x" } })).json.data.capabilities).toEqual(["root"]);
  });

  test("Vault 1.14.8: no mount_type, plain invalid-token text", async () => {
    const old = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey }, version: "1.14.8" });
    try {
      const r = await call("GET", "auth/token/lookup-self", { token: old.rootToken, emulator: old });
      expect(r.json.mount_type).toBeUndefined();
      expect((await call("GET", "auth/token/lookup-self", { token: "hvs.nope", emulator: old })).text).toBe(errors("permission denied"));
      expect((await call("GET", "sys/health", { emulator: old })).json.enterprise).toBeUndefined();
    } finally {
      await old.stop();
    }
  });
});

describe("OpenBao 2.6.2 mode (as a real OpenBao answered: tests/real/DIFFERENCES.md)", () => {
  test("s. tokens, no mount_type, plain invalid-token text, multierror accessor texts, missing-policy warnings, OpenBao's health", async () => {
    const bao = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey }, version: "openbao-2.6.2" });
    try {
      const o = { emulator: bao };
      expect(bao.rootToken).toMatch(/^s\.[A-Za-z0-9]{24}$/);
      const created = await call("POST", "auth/token/create", { ...o, token: bao.rootToken, body: { policies: ["app"] } });
      expect(created.json.auth.client_token).toMatch(/^s\./);
      expect(created.json.warnings).toEqual(['Policy "app" does not exist']);
      expect("mount_type" in created.json).toBe(false);
      expect((await call("GET", "auth/token/lookup-self", { ...o, token: "s.nope" })).text).toBe(errors("permission denied"));
      expect((await call("POST", "auth/token/revoke-accessor", { ...o, token: bao.rootToken, body: { accessor: "" } })).json.errors).toEqual(["1 error occurred:\n\t* missing accessor\n\n"]);
      const h = await call("GET", "sys/health", o);
      expect([h.status, Object.keys(h.json), h.json.version]).toEqual([200, ["initialized", "sealed", "standby", "replication_performance_mode", "replication_dr_mode", "server_time_utc", "version", "cluster_name", "cluster_id"], "2.6.2"]);
      const inNs = await call("GET", "sys/health", { ...o, headers: { "X-Vault-Namespace": "team-a" } });
      expect([inNs.status, inNs.json.errors]).toEqual([400, ["operation unavailable in namespaces"]]);
    } finally {
      await bao.stop();
    }
  });

  test("every version: lookup shows no period that came from the role's token_period", async () => {
    const gen = v.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true });
    const pod = await call("POST", "auth/token/create/applications", { token: gen.token, body: { policies: ["app"] } });
    const data = (await call("GET", "auth/token/lookup-self", { token: pod.json.auth.client_token })).json.data;
    expect(data.period).toBeUndefined();
    expect(data.creation_ttl).toBe(3600);
    expect((await call("GET", "auth/token/lookup-self", { token: gen.token })).json.data.period).toBe(86400);
  });
});

describe("sealed, standby and sys/health", () => {
  test("health codes and overrides", async () => {
    const h = await call("GET", "sys/health");
    expect([h.status, Object.keys(h.json)]).toEqual([200, ["initialized", "sealed", "standby", "performance_standby", "replication_performance_mode", "replication_dr_mode", "server_time_utc", "version", "enterprise", "cluster_name", "cluster_id", "echo_duration_ms", "clock_skew_ms"]]);
    v.standby = true;
    expect((await call("GET", "sys/health")).status).toBe(429);
    expect((await call("GET", "sys/health?standbyok=true")).status).toBe(200);
    expect((await call("GET", "sys/health?standbycode=299")).status).toBe(299);
    v.standby = false;
    expect((await call("GET", "sys/health?activecode=abc")).text).toBe('{"errors":[]}\n');
    expect((await call("HEAD", "sys/health?activecode=204")).status).toBe(204);
  });

  test("sealed: 503 everywhere but sys/health, which reports it", async () => {
    v.sealed = true;
    try {
      const r = await call("GET", "auth/token/lookup-self", { token: gen.token });
      expect([r.status, r.text]).toEqual([503, errors("Vault is sealed")]);
      const h = await call("GET", "sys/health");
      expect(h.status).toBe(503);
      expect(h.json).toMatchObject({ sealed: true });
      expect(h.json.cluster_name).toBeUndefined();
      expect((await call("GET", "sys/health?sealedcode=299")).status).toBe(299);
    } finally {
      v.sealed = false;
    }
  });
});

describe("LDAP login", () => {
  test("good and bad credentials", async () => {
    v.addLdapUser("alice", "s3cret", ["dev"]);
    const ok = await call("PUT", "auth/ldap/login/alice", { body: { password: "s3cret" } });
    expect(ok.json).toMatchObject({ data: {}, mount_type: "" });
    expect(ok.json.auth).toMatchObject({ policies: ["default", "dev"], metadata: { username: "alice" }, orphan: true, lease_duration: 2764800, renewable: true });
    expect(ok.json.auth.entity_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call("PUT", "auth/ldap/login/alice", { body: { password: "nope" } })).text).toBe(errors("ldap operation failed: failed to bind as user"));
  });
});

describe("faults and mTLS", () => {
  test("status fault with Retry-After, consumed after `times`", async () => {
    v.inject({ path: "auth/token/lookup-self", times: 1, status: 503, errors: ["Vault is sealed"], headers: { "Retry-After": "2" } });
    const f = await call("GET", "auth/token/lookup-self", { token: gen.token });
    expect([f.status, f.text, f.headers.get("retry-after")]).toEqual([503, errors("Vault is sealed"), "2"]);
    expect(v.requests.at(-1)?.fault).toBe("status");
    expect((await call("GET", "auth/token/lookup-self", { token: gen.token })).status).toBe(200);
  });

  test("drop destroys the connection without an answer", async () => {
    v.inject({ method: "POST", path: /^auth\/token\/create\//, times: 1, drop: true });
    await expect(call("POST", "auth/token/create/applications", { token: gen.token, body: {} })).rejects.toThrow();
    expect(v.requests.at(-1)).toMatchObject({ fault: "drop", status: 0 });
  });

  test("hang: waitForRequest sees it before any answer; the client gives up; release lets a started handler complete", async () => {
    const before = v.liveTokens().length;
    v.inject({ path: "auth/token/create/applications", times: 1, hang: true, completeAfterDisconnect: true });
    const ac = new AbortController();
    const pending = call("POST", "auth/token/create/applications", { token: gen.token, body: { meta: { pod: "p1" } }, signal: ac.signal });
    const rec = await v.waitForRequest((r) => r.path === "auth/token/create/applications" && (r.body as any)?.meta?.pod === "p1", 2000);
    expect(rec.status).toBe(0);
    expect(v.hungCount).toBe(1);
    ac.abort();
    await expect(pending).rejects.toThrow();
    v.releaseHung();
    await Bun.sleep(50);
    expect(v.liveTokens().length).toBe(before + 1); // Vault still minted the token
  });

  test("hang: a held request whose client disconnects is cancelled, never processed", async () => {
    const before = v.liveTokens().length;
    v.inject({ path: "auth/token/create/applications", times: 1, hang: true });
    const ac = new AbortController();
    const pending = call("POST", "auth/token/create/applications", { token: gen.token, body: { meta: { pod: "p2" } }, signal: ac.signal });
    const rec = await v.waitForRequest((r) => (r.body as any)?.meta?.pod === "p2", 2000);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await Bun.sleep(20);
    v.releaseHung();
    await Bun.sleep(50);
    expect(rec.fault).toBe("hang-cancelled");
    expect(v.liveTokens().length).toBe(before);
  });

  test("mTLS: a client certificate is required", async () => {
    const m = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true } });
    try {
      await expect(fetch(`${m.url}/v1/sys/health`, { tls: { ca: pki.ca } })).rejects.toThrow();
      const ok = await fetch(`${m.url}/v1/sys/health`, { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
      expect(ok.status).toBe(200);
    } finally {
      await m.stop();
    }
  });

  test("stop() closes hung connections (plain HTTP emulator)", async () => {
    const s = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey }, tls_disabled: true });
    expect(s.url).toStartWith("http://127.0.0.1:");
    expect((await call("GET", "sys/health", { emulator: s })).status).toBe(200);
    s.inject({ hang: true });
    const pending = call("GET", "sys/health", { emulator: s });
    await s.waitForRequest(() => true);
    await s.stop();
    await expect(pending).rejects.toThrow();
  });
});

describe("CLI (tests/emulator/main.ts)", () => {
  test("prints one JSON line, serves the seeded role and generator, exits on SIGTERM", async () => {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "main.ts"), "--pki-dir", pki.dir], { stdout: "pipe", stderr: "pipe" });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const info = JSON.parse(text.trim());
      expect(Object.keys(info)).toEqual(["url", "caFile", "rootToken", "generatorToken"]);
      expect(info.caFile).toBe(pki.caFile);
      const res = await fetch(`${info.url}/v1/auth/token/create/applications`, {
        method: "POST", headers: { "X-Vault-Token": info.generatorToken }, body: "{}", tls: { ca: pki.ca },
      });
      expect(((await res.json()) as any).auth.policies).toEqual(["app", "app-read", "default", "shared-read"]);
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  });
});
