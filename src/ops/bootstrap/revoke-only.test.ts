import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../config.ts";
import type { LookupSelfData, VaultApi } from "../../vault/api.ts";
import { VaultResponseError } from "../../vault/errors.ts";
import { PolicyUnreadableError, revokeOnlyIdentity, revokeOnlyProblems } from "./revoke-only.ts";

const SHIPPED = readFileSync(join(import.meta.dir, "..", "..", "..", "policies", "revoke_only_policy.hcl"), "utf8");
const GRANTED = { "auth/token/revoke-accessor": ["update"], "auth/token/renew-self": ["update"], "auth/token/lookup-accessor": ["update"] };

/** A Vault that knows `texts` (policy name → text; an Error is thrown) and answers capabilities-self with `caps`. */
function fakeVault(self: Partial<LookupSelfData>, texts: Record<string, string | Error>, caps: Record<string, string[]> = GRANTED) {
  const asked: string[][] = [];
  const api = {
    lookupSelf: async () => ({ policies: ["vaulttmpfs_revoke_only"], ...self }),
    readPolicy: async (_t: string, name: string) => {
      const t = texts[name];
      if (t instanceof Error) throw t;
      return t ?? null;
    },
    capabilitiesSelf: async (_t: string, paths: string[]) => {
      asked.push(paths);
      return Object.fromEntries(paths.map((p) => [p, caps[p] ?? ["deny"]]));
    },
  } as unknown as VaultApi;
  return { api, asked };
}
const input = (api: VaultApi) => ({ api, operatorToken: "op", via: "VAULT_TOKEN", nodeToken: "node", authMount: "kubernetes", roleName: "applications" });

describe("revokeOnlyProblems", () => {
  test("the shipped policy alone: no problem; the samples cover the role, the login method's config and roles, policies, auth methods", async () => {
    const { api, asked } = fakeVault({}, { vaulttmpfs_revoke_only: SHIPPED });
    expect(await revokeOnlyProblems(input(api))).toEqual([]);
    expect(asked[0]).toEqual(expect.arrayContaining(["auth/token/create/applications", "auth/kubernetes/config", "auth/kubernetes/role/default", "sys/policies/acl/x", "sys/auth/x", "auth/token/roles/x"]));
  });

  test("a policy granting beyond the four paths, identity policies, a missing or unreadable-text policy: each a problem", async () => {
    const { api } = fakeVault(
      { policies: ["vaulttmpfs_revoke_only", "gen", "ghost", "legacy"], identity_policies: ["ops"] },
      { vaulttmpfs_revoke_only: SHIPPED, gen: 'path "auth/token/create/k8s-*" { capabilities = ["update"] }', legacy: 'path "auth/token/create" { policy = "write" }' },
    );
    const problems = await revokeOnlyProblems(input(api));
    expect(problems).toEqual([
      expect.stringContaining("identity policies ops"),
      "policy gen grants update on auth/token/create/k8s-*",
      expect.stringContaining("its policy ghost does not exist"),
      expect.stringContaining("policy legacy has rules bootstrap cannot read"),
    ]);
  });

  test("a token that has the default policy: its text is proven like any other, so a widened default cannot hide a grant the samples miss", async () => {
    const widened = 'path "auth/token/lookup-self" { capabilities = ["read"] }\npath "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }\npath "auth/token/create/team-*" { capabilities = ["update"] }';
    const { api } = fakeVault({ policies: ["default", "vaulttmpfs_revoke_only"] }, { vaulttmpfs_revoke_only: SHIPPED, default: widened });
    const problems = await revokeOnlyProblems(input(api));
    expect(problems).toEqual([expect.stringContaining("policy default grants")]);
    expect(problems[0]).toContain("update on auth/token/create/team-*");
  });

  test("a grant the samples do not name is still caught by the sampling's second line when it hits a sampled path", async () => {
    const { api } = fakeVault({}, { vaulttmpfs_revoke_only: SHIPPED }, { ...GRANTED, "sys/auth/x": ["sudo", "update"] });
    expect(await revokeOnlyProblems(input(api))).toEqual(["it may write sys/auth/x, so it could mint tokens"]);
  });

  test("an operator who may not read the policy: refused with the bootstrap policy's fix", async () => {
    const { api } = fakeVault({}, { vaulttmpfs_revoke_only: new VaultResponseError("GET", "/v1/sys/policies/acl/vaulttmpfs_revoke_only", 403, ["permission denied"], false) });
    const err = await revokeOnlyProblems(input(api)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyUnreadableError);
    expect((err as Error).message).toContain("add read on sys/policies/acl/vaulttmpfs_revoke_only to policies/bootstrap_policy.hcl");
  });
});

describe("revokeOnlyIdentity", () => {
  test("without VAULTTMPFS_MODE in the operator's shell, the auth mount and token path still come from their variables or defaults", () => {
    const env = { VAULTTMPFS_REVOKE_TOKEN_PATH: "/etc/vt-revoke" };
    expect(revokeOnlyIdentity(loadConfig(env), env)).toMatchObject({ authMount: "kubernetes", revokeTokenPath: "/etc/vt-revoke" });
    const jwt = { VAULTTMPFS_AUTH_MOUNT: "jwt" };
    expect(revokeOnlyIdentity(loadConfig(jwt), jwt).authMount).toBe("jwt");
  });
});
