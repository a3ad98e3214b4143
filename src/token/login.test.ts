import { describe, expect, test } from "bun:test";
import type { Secret, SecretAuth, VaultApi } from "../vault/api.ts";
import { VaultResponseError } from "../vault/errors.ts";
import { grantedPolicies, loginPodToken, missingPolicies, PolicyMismatchError } from "./login.ts";
import { UnexpectedResponseError } from "./mint.ts";
import { scrub } from "../log/scrub.ts";

const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

/** A Vault that answers logins like OpenBao does, recording every call. */
function fakeVault(opts: { policies?: string[]; wrapNothing?: boolean; batch?: boolean; lookupRefused?: boolean } = {}) {
  let n = 0;
  const granted = () => ["default", ...(opts.policies ?? ["team-a-app"])];
  const calls: { op: string; wrapTTL?: string | undefined; body?: unknown; token?: string }[] = [];
  const api = {
    async login(mount: string, role: string, jwt: string, wrapTTL: string | undefined): Promise<Secret> {
      calls.push({ op: `login ${mount}`, wrapTTL, body: { role, jwt } });
      const id = ++n;
      const auth: SecretAuth = { client_token: `s.client${id}`, accessor: opts.batch ? "" : `acc${id}`, policies: granted(), token_policies: granted(), metadata: { role }, lease_duration: 3600, renewable: true };
      const base = { request_id: "", lease_id: "", renewable: false, lease_duration: 0, data: null, warnings: null };
      if (wrapTTL && !opts.wrapNothing) return { ...base, auth: null, wrap_info: { token: `s.wrap${id}`, accessor: `wacc${id}`, ttl: 300, creation_time: "", creation_path: `auth/${mount}/login`, wrapped_accessor: auth.accessor } };
      return { ...base, auth, wrap_info: null };
    },
    async lookupAccessor(token: string, accessor: string) {
      calls.push({ op: "lookup-accessor", token, body: { accessor } });
      if (opts.lookupRefused) throw new VaultResponseError("POST", "/v1/auth/token/lookup-accessor", 403, ["permission denied"], false);
      return { accessor, policies: granted(), identity_policies: null };
    },
  } as unknown as VaultApi;
  return { api, calls };
}

const base = { mount: "jwt", role: "team-a", jwt: JWT };

describe("loginPodToken: exactly one login", () => {
  test("wrapped by default: the wrapping token for the pod, the login token's accessor for the journal, nothing to check", async () => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL: "5m", requestedPolicies: [] });
    expect(t).toEqual({ fileToken: "s.wrap1", fileJson: expect.objectContaining({ wrapped_accessor: "acc1" }), accessor: "acc1", wrappingAccessor: "wacc1", ttlSeconds: 0 });
    expect(v.calls).toEqual([{ op: "login jwt", wrapTTL: "5m", body: { role: "team-a", jwt: JWT } }]);
  });

  test("vault/unwrap with vault/policies: the client token; the check reads the login's own answer, no further request", async () => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL: undefined, requestedPolicies: ["team-a-app"] });
    expect(t).toMatchObject({ fileToken: "s.client1", accessor: "acc1", wrappingAccessor: undefined, ttlSeconds: 3600 });
    await t.checkAfterJournal!("s.node");
    expect(v.calls.map((c) => c.op)).toEqual(["login jwt"]);
    // Held from the moment it is received, so no message or log line can carry it.
    expect(scrub("token s.client1 here")).toBe("token [redacted] here");
  });

  test("vault/policies with wrapping: one wrapped login; the check looks the accessor up with the node's token, never unwrapping", async () => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL: "5m", requestedPolicies: ["team-a-app", "default"] });
    expect(t.accessor).toBe("acc1");
    expect(v.calls.map((c) => c.op)).toEqual(["login jwt"]);
    await t.checkAfterJournal!("s.node");
    expect(v.calls.slice(1)).toEqual([{ op: "lookup-accessor", token: "s.node", body: { accessor: "acc1" } }]);
  });

  test.each([
    ["wrapped", "5m"],
    ["unwrapped", undefined],
  ])("vault/policies beyond the role's (%s): the check throws PolicyMismatchError naming them (mount then revokes the journaled token)", async (_n, wrapTTL) => {
    const v = fakeVault();
    const t = await loginPodToken({ ...base, api: v.api, wrapTTL, requestedPolicies: ["team-a-app", "team-b-app"] });
    const err = await t.checkAfterJournal!("s.node").catch((e) => e);
    expect(err).toBeInstanceOf(PolicyMismatchError);
    expect(err.message).toBe(`vault/policies asks for "team-b-app", which Vault role "team-a" at auth/jwt does not grant (it grants default, team-a-app); the driver revokes the login token. Fix the role or the option`);
    expect(v.calls.filter((c) => c.op.startsWith("login")).length).toBe(1);
  });

  test("a node token that may not look accessors up fails the check with Vault's refusal (never a silent pass)", async () => {
    const t = await loginPodToken({ ...base, api: fakeVault({ lookupRefused: true }).api, wrapTTL: "5m", requestedPolicies: ["team-a-app"] });
    await expect(t.checkAfterJournal!("s.node")).rejects.toThrow("Vault POST /v1/auth/token/lookup-accessor: 403 permission denied");
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

describe("the policy-subset decision", () => {
  const auth = (p: Partial<SecretAuth>): SecretAuth => ({ client_token: "", accessor: "", policies: null, metadata: null, lease_duration: 0, renewable: false, ...p });
  test("granted = token policies, policies and identity policies together", () => {
    expect(grantedPolicies(auth({ token_policies: ["default", "a"], policies: ["default", "a", "idp"], identity_policies: ["idp"] })).sort()).toEqual(["a", "default", "idp"]);
    expect(grantedPolicies(auth({}))).toEqual([]);
    expect(grantedPolicies({ accessor: "a", policies: ["default", "a"], identity_policies: ["idp"] }).sort()).toEqual(["a", "default", "idp"]);
  });
  test("missing = requested minus granted; nothing requested is always met", () => {
    expect(missingPolicies(["a", "b"], ["a"])).toEqual(["b"]);
    expect(missingPolicies([], [])).toEqual([]);
    expect(missingPolicies(["a"], ["a", "b"])).toEqual([]);
  });
});
