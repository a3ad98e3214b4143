import { describe, expect, test } from "bun:test";
import type { Secret, SecretAuth, VaultApi } from "../vault/api.ts";
import { VaultResponseError } from "../vault/errors.ts";
import { grantedPolicies, loginPodToken, missingPolicies, PolicyMismatchError } from "./login.ts";
import { UnexpectedResponseError } from "./mint.ts";

const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

/** A Vault that answers logins like OpenBao does, counting tokens it made and revoked. */
function fakeVault(opts: { policies?: string[]; wrapNothing?: boolean; batch?: boolean } = {}) {
  let n = 0;
  const live = new Set<string>();
  const calls: { op: string; wrapTTL?: string | undefined; body?: unknown }[] = [];
  const api = {
    async login(mount: string, role: string, jwt: string, wrapTTL: string | undefined): Promise<Secret> {
      calls.push({ op: `login ${mount}`, wrapTTL, body: { role, jwt } });
      const id = ++n;
      const auth: SecretAuth = { client_token: `s.client${id}`, accessor: opts.batch ? "" : `acc${id}`, policies: ["default", ...(opts.policies ?? ["team-a-app"])], token_policies: ["default", ...(opts.policies ?? ["team-a-app"])], metadata: { role }, lease_duration: 3600, renewable: true };
      live.add(auth.client_token);
      const base = { request_id: "", lease_id: "", renewable: false, lease_duration: 0, data: null, warnings: null };
      if (wrapTTL && !opts.wrapNothing) return { ...base, auth: null, wrap_info: { token: `s.wrap${id}`, accessor: `wacc${id}`, ttl: 300, creation_time: "", creation_path: `auth/${mount}/login`, wrapped_accessor: auth.accessor } };
      return { ...base, auth, wrap_info: null };
    },
    async revokeSelf(token: string) {
      calls.push({ op: "revoke-self" });
      live.delete(token);
    },
  } as unknown as VaultApi;
  return { api, live, calls };
}

const revoked: string[] = [];
const base = { mount: "jwt", role: "team-a", jwt: JWT, revokeAccessor: async (a: string) => void revoked.push(a) };

describe("loginPodToken", () => {
  test("wrapped by default: the wrapping token for the pod, the login token's accessor for the journal", async () => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL: "5m", requestedPolicies: [] });
    expect(t).toEqual({ fileToken: "s.wrap1", fileJson: expect.objectContaining({ wrapped_accessor: "acc1" }), accessor: "acc1", wrappingAccessor: "wacc1", ttlSeconds: 0 });
    expect(v.calls).toEqual([{ op: "login jwt", wrapTTL: "5m", body: { role: "team-a", jwt: JWT } }]);
  });

  test("vault/unwrap: the client token and the whole response, one login", async () => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL: undefined, requestedPolicies: ["team-a-app"] });
    expect(t).toMatchObject({ fileToken: "s.client1", accessor: "acc1", wrappingAccessor: undefined, ttlSeconds: 3600 });
    expect(v.calls.map((c) => c.op)).toEqual(["login jwt"]);
  });

  test("vault/policies with wrapping: a checking login, revoked by itself, then the pod's wrapped login", async () => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL: "5m", requestedPolicies: ["team-a-app", "default"] });
    expect(t.accessor).toBe("acc2");
    expect(v.calls.map((c) => `${c.op}${c.wrapTTL ? ` wrapped` : ""}`)).toEqual(["login jwt", "revoke-self", "login jwt wrapped"]);
    expect([...v.live]).toEqual(["s.client2"]);
  });

  test.each([
    ["wrapped", "5m"],
    ["unwrapped", undefined],
  ])("vault/policies beyond the role's (%s): PolicyMismatchError naming them, the login token revoked, no wrapped login", async (_n, wrapTTL) => {
    const v = fakeVault();
    const err = await loginPodToken({ ...base, api: v.api, wrapTTL, requestedPolicies: ["team-a-app", "team-b-app"] }).catch((e) => e);
    expect(err).toBeInstanceOf(PolicyMismatchError);
    expect(err.message).toBe(`vault/policies asks for "team-b-app", which Vault role "team-a" at auth/jwt does not grant (it grants default, team-a-app); the login token was revoked. Fix the role or the option`);
    expect(v.live.size).toBe(0);
    expect(v.calls.map((c) => c.op)).toEqual(["login jwt", "revoke-self"]);
  });

  test("a batch-token role (no accessor) cannot be revoked by accessor: refused", async () => {
    await expect(loginPodToken({ ...base, api: fakeVault({ batch: true }).api, wrapTTL: undefined, requestedPolicies: [] })).rejects.toThrow(/token_type=service/);
    await expect(loginPodToken({ ...base, api: fakeVault({ batch: true }).api, wrapTTL: "5m", requestedPolicies: [] })).rejects.toThrow(/wrapped_accessor/);
  });

  test("a wrapped login answered unwrapped: refused, carrying the accessor so the caller revokes it", async () => {
    const err = await loginPodToken({ ...base, api: fakeVault({ wrapNothing: true }).api, wrapTTL: "5m", requestedPolicies: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect(err.accessor).toBe("acc1");
  });

  test("Vault's refusal passes through untouched (its text is the pod's event)", async () => {
    const api = { login: async () => { throw new VaultResponseError("POST", "/v1/auth/jwt/login", 400, ["error validating token: invalid expiration time (exp) claim: token is expired"], false); } } as unknown as VaultApi;
    await expect(loginPodToken({ ...base, api, wrapTTL: "5m", requestedPolicies: [] })).rejects.toThrow("Vault POST /v1/auth/jwt/login: 400 error validating token: invalid expiration time (exp) claim: token is expired");
  });
});

describe("a login token that cannot revoke itself", () => {
  const noRevokeSelf = (v: ReturnType<typeof fakeVault>) => {
    (v.api as { revokeSelf: unknown }).revokeSelf = async () => {
      throw new VaultResponseError("PUT", "/v1/auth/token/revoke-self", 403, ["permission denied"], false);
    };
    return v;
  };

  test("is revoked by accessor with the node's token instead", async () => {
    revoked.length = 0;
    const v = noRevokeSelf(fakeVault());
    await loginPodToken({ ...base, api: v.api, wrapTTL: "5m", requestedPolicies: ["team-a-app"] });
    expect(revoked).toEqual(["acc1"]);
    await expect(loginPodToken({ ...base, api: v.api, wrapTTL: undefined, requestedPolicies: ["team-b-app"] })).rejects.toThrow(PolicyMismatchError);
    expect(revoked).toEqual(["acc1", "acc3"]);
  });

  test("and when that fails too, the mount fails saying so: a token nobody tracks is never left silently", async () => {
    const v = noRevokeSelf(fakeVault());
    const err = await loginPodToken({ ...base, api: v.api, wrapTTL: "5m", requestedPolicies: ["team-a-app"], revokeAccessor: async () => { throw new Error("connection refused"); } }).catch((e) => e);
    expect(err.message).toContain("cannot revoke the login token the driver used to check vault/policies (revoke-self: Vault PUT /v1/auth/token/revoke-self: 403 permission denied; revoke-accessor: connection refused)");
    expect(v.calls.filter((c) => c.wrapTTL).length).toBe(0);
  });
});

describe("the policy-subset decision", () => {
  const auth = (p: Partial<SecretAuth>): SecretAuth => ({ client_token: "", accessor: "", policies: null, metadata: null, lease_duration: 0, renewable: false, ...p });
  test("granted = token policies, policies and identity policies together", () => {
    expect(grantedPolicies(auth({ token_policies: ["default", "a"], policies: ["default", "a", "idp"], identity_policies: ["idp"] })).sort()).toEqual(["a", "default", "idp"]);
    expect(grantedPolicies(auth({}))).toEqual([]);
  });
  test("missing = requested minus granted; nothing requested is always met", () => {
    expect(missingPolicies(["a", "b"], ["a"])).toEqual(["b"]);
    expect(missingPolicies([], [])).toEqual([]);
    expect(missingPolicies(["a"], ["a", "b"])).toEqual([]);
  });
});
