import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../config.ts";
import type { VaultApi } from "../../vault/api.ts";
import { VaultNetworkError, VaultResponseError } from "../../vault/errors.ts";
import { checkAuthMethod, judgeRevokeOnly } from "./identity.ts";

const identity = loadConfig({ VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_AUTH_MOUNT: "jwt", VAULTTMPFS_LOGIN_ROLE: "apps" }).podIdentity!;
const allowed = { "auth/token/revoke-accessor": ["update"], "auth/token/renew-self": ["update"], "auth/token/lookup-accessor": ["update"] };
const denied = { "auth/token/create": ["deny"], "auth/token/create-orphan": ["deny"], "auth/token/create/default": ["deny"], "auth/jwt/role/default": ["deny"] };
const shipped = { policies: ["vaulttmpfs_revoke_only"], identity_policies: null };

describe("judgeRevokeOnly", () => {
  test("revokes, renews, mints nothing: ok", () => {
    expect(judgeRevokeOnly(identity, "applications", shipped, { ok: true, value: { ...allowed, ...denied } })).toMatchObject({ status: "ok" });
  });
  test("a token that may create tokens (or write a login role) fails, naming the paths", () => {
    const r = judgeRevokeOnly(identity, "applications", shipped, { ok: true, value: { ...allowed, ...denied, "auth/token/create": ["update"], "auth/jwt/role/default": ["create"] } });
    expect(r).toMatchObject({ status: "fail", detail: expect.stringContaining("may write auth/token/create, auth/jwt/role/default: it can mint tokens") });
    expect(judgeRevokeOnly(identity, "applications", shipped, { ok: true, value: { ...allowed, "auth/token/create": ["root"] } }).status).toBe("fail");
  });
  test("a token whose policies doctor cannot prove (another policy, an identity policy) fails, whatever the samples say", () => {
    const all = { ...allowed, ...denied };
    const other = judgeRevokeOnly(identity, "applications", { policies: ["vaulttmpfs_revoke_only", "token_generator"], identity_policies: null }, { ok: true, value: all });
    expect(other).toMatchObject({ status: "fail", detail: expect.stringContaining("also has policies token_generator: doctor cannot prove it mints nothing"), fix: expect.stringContaining("bootstrap --revoke-only --force") });
    const viaGroup = judgeRevokeOnly(identity, "applications", { policies: ["vaulttmpfs_revoke_only"], identity_policies: ["ops"] }, { ok: true, value: all });
    expect(viaGroup).toMatchObject({ status: "fail", detail: expect.stringContaining("identity policies ops") });
    // `default` too: an administrator may have widened it, and no sample would show a grant on, say, auth/token/create/team-*.
    const withDefault = judgeRevokeOnly(identity, "applications", { policies: ["default", "vaulttmpfs_revoke_only"], identity_policies: null }, { ok: true, value: all });
    expect(withDefault).toMatchObject({ status: "fail", detail: expect.stringContaining("also has policies default") });
  });
  test("the samples include the node's token role, the auth method's config, policies, auth methods and token roles", () => {
    for (const path of ["auth/token/create/k8s-default", "auth/jwt/config", "sys/policies/acl/x", "sys/auth/x", "auth/token/roles/x"]) {
      const r = judgeRevokeOnly(identity, "k8s-{namespace}", shipped, { ok: true, value: { ...allowed, ...denied, [path]: ["update"] } });
      expect([path, r.status, r.detail]).toEqual([path, "fail", expect.stringContaining(`may write ${path}`)]);
    }
  });
  test("a token that cannot revoke fails", () => {
    expect(judgeRevokeOnly(identity, "applications", shipped, { ok: true, value: { ...denied, "auth/token/renew-self": ["update"] } })).toMatchObject({ status: "fail", detail: expect.stringContaining("auth/token/revoke-accessor") });
    expect(judgeRevokeOnly(identity, "applications", shipped, { ok: false, error: new Error("boom") }).status).toBe("fail");
  });
  test("a token that cannot look accessors up fails: wrapped pods that set vault/policies could not be checked", () => {
    const { "auth/token/lookup-accessor": _, ...noLookup } = allowed;
    expect(judgeRevokeOnly(identity, "applications", shipped, { ok: true, value: { ...denied, ...noLookup } })).toMatchObject({ status: "fail", detail: expect.stringContaining("auth/token/lookup-accessor") });
  });
});

describe("checkAuthMethod", () => {
  const answering = (err: unknown) => ({ login: async () => { throw err; } }) as unknown as VaultApi;
  test.each([
    ["an unmounted method", new VaultResponseError("POST", "/v1/auth/jwt/login", 404, ["no handler for route \"auth/jwt/login\". route entry not found."], false), "fail", "no auth method at auth/jwt"],
    ["a missing role (jwt)", new VaultResponseError("POST", "/v1/auth/jwt/login", 400, ['role "apps" could not be found'], false), "fail", 'has no role "apps"'],
    ["a missing role (kubernetes)", new VaultResponseError("POST", "/v1/auth/jwt/login", 400, ['invalid role name "apps"'], false), "fail", 'has no role "apps"'],
    ["a role that refuses the bad JWT", new VaultResponseError("POST", "/v1/auth/jwt/login", 400, ["error validating token: malformed"], false), "ok", 'has role "apps"'],
    ["Vault unreachable", new VaultNetworkError("POST", "/v1/auth/jwt/login", "ECONNREFUSED", null), "fail", "cannot reach Vault"],
  ])("%s", async (_n, err, status, detail) => {
    expect(await checkAuthMethod(answering(err), identity)).toMatchObject({ status, detail: expect.stringContaining(detail) });
  });
  test("a method that accepts a JWT that is not one is a failure", async () => {
    const api = { login: async () => ({}) } as unknown as VaultApi;
    expect((await checkAuthMethod(api, identity)).status).toBe("fail");
  });
});
