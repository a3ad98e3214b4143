import type { VaultClient } from "./client.ts";
import { VaultResponseError, isVaultStatus } from "./errors.ts";

/** `auth` of a token-create, renew or login response. */
export interface SecretAuth {
  client_token: string;
  accessor: string;
  policies: string[] | null;
  token_policies?: string[];
  identity_policies?: string[] | null;
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  orphan?: boolean;
}

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

export interface Secret<D = Record<string, unknown>> {
  request_id: string;
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  data: D | null;
  wrap_info: WrapInfo | null;
  warnings: string[] | null;
  auth: SecretAuth | null;
}

export interface TokenCreateRequest {
  policies: readonly string[];
  meta?: Record<string, string>;
  ttl?: string;
  period?: string;
  display_name: string;
  num_uses?: number;
  renewable?: boolean;
  /** Leave out the `default` policy (whose text an administrator may have widened). */
  no_default_policy?: boolean;
}

export interface LookupSelfData {
  accessor: string;
  ttl: number;
  period?: number;
  renewable?: boolean;
  policies: string[];
  orphan: boolean;
  expire_time: string | null;
  display_name: string;
  meta: Record<string, string> | null;
  /** Policies the token gets through its entity and groups; none for a token made by bootstrap unless Vault's identity adds some. */
  identity_policies?: string[] | null;
}

export interface AccessorLookupData {
  accessor: string;
  policies: string[] | null;
  identity_policies?: string[] | null;
}

export interface HealthStatus {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  performance_standby?: boolean;
  version: string;
  cluster_name?: string;
}

export interface RoleData {
  allowed_policies: string[];
  allowed_policies_glob: string[];
  disallowed_policies: string[];
  disallowed_policies_glob: string[];
  orphan: boolean;
  renewable: boolean;
  token_period: number;
  token_explicit_max_ttl: number;
  name: string;
}

/** Warning Vault returns (with a 200) for an accessor it does not know: already expired or revoked. */
export const NO_TOKEN_FOR_ACCESSOR = "No token found with this accessor";

function mustHave<T>(value: T | null | undefined, what: string, method: string, path: string): T {
  if (value === null || value === undefined) {
    throw new VaultResponseError(method, `/v1/${path}`, 200, [`response has no ${what}`], true);
  }
  return value;
}

/** Endpoint recipes: build the request, send, check the shape. One function per Vault call we make. */
export function vaultApi(client: VaultClient) {
  return {
    /** POST auth/token/create/<role>; wrapped when `wrapTTL` is given. Not idempotent: each call mints a token. */
    async createToken(token: string, role: string, req: TokenCreateRequest, wrapTTL: string | undefined): Promise<Secret> {
      const path = `auth/token/create/${encodeURIComponent(role)}`;
      const body = { num_uses: 0, type: "", entity_alias: "", ...req };
      const res = await client.send<Secret>({ method: "POST", path, token, body, wrapTTL, idempotent: false });
      return mustHave(res.body, "body", "POST", path);
    },

    /** POST auth/token/create-orphan (bootstrap of the node's generator token). */
    async createOrphan(token: string, req: TokenCreateRequest): Promise<SecretAuth> {
      const path = "auth/token/create-orphan";
      const body = { num_uses: 0, type: "", entity_alias: "", ...req };
      const res = await client.send<Secret>({ method: "POST", path, token, body, idempotent: false });
      return mustHave(res.body?.auth, "auth", "POST", path);
    },

    /** PUT auth/token/renew-self with increment 0: a periodic token goes back to its full period. */
    async renewSelf(token: string): Promise<SecretAuth> {
      const path = "auth/token/renew-self";
      const res = await client.send<Secret>({ method: "PUT", path, token, body: { increment: 0 } });
      return mustHave(res.body?.auth, "auth", "PUT", path);
    },

    /**
     * PUT auth/token/revoke-self (in Vault's default policy). Bootstrap uses it
     * to drop its LDAP session token and to take back a token it could not use.
     */
    async revokeSelf(token: string): Promise<void> {
      await client.send<Secret>({ method: "PUT", path: "auth/token/revoke-self", token });
    },

    async lookupSelf(token: string): Promise<LookupSelfData> {
      const path = "auth/token/lookup-self";
      const res = await client.send<Secret<LookupSelfData>>({ method: "GET", path, token });
      return mustHave(res.body?.data, "data", "GET", path);
    },

    /**
     * POST auth/token/revoke-accessor. Idempotent: an accessor Vault no longer
     * knows (already revoked or expired: a 200 with a warning, or a 400 "token
     * not found" when the index outlived the token) counts as done, returning false.
     */
    async revokeAccessor(token: string, accessor: string): Promise<boolean> {
      try {
        const res = await client.send<Secret>({ method: "POST", path: "auth/token/revoke-accessor", token, body: { accessor } });
        return !(res.body?.warnings ?? []).includes(NO_TOKEN_FOR_ACCESSOR);
      } catch (err) {
        if (isVaultStatus(err, 400) && err.errors.includes("token not found")) return false;
        throw err;
      }
    },

    /**
     * POST auth/token/lookup-accessor: what a token may do (policies, TTL,
     * metadata) without its ID. Pod identity mode checks a wrapped login's
     * policies this way, since reading them from the wrapped answer would
     * spend the pod's single unwrap.
     */
    async lookupAccessor(token: string, accessor: string): Promise<AccessorLookupData> {
      const path = "auth/token/lookup-accessor";
      const res = await client.send<Secret<AccessorLookupData>>({ method: "POST", path, token, body: { accessor } });
      return mustHave(res.body?.data, "data", "POST", path);
    },

    async capabilitiesSelf(token: string, paths: readonly string[]): Promise<Record<string, string[]>> {
      const path = "sys/capabilities-self";
      const res = await client.send<Secret & Record<string, unknown>>({ method: "POST", path, token, body: { paths } });
      const data = (res.body?.data ?? res.body ?? {}) as Record<string, unknown>;
      return Object.fromEntries(paths.map((p) => [p, Array.isArray(data[p]) ? (data[p] as string[]) : []]));
    },

    /** GET sys/policies/acl/<name>: the policy's text; `null` when no such policy exists. */
    async readPolicy(token: string, name: string): Promise<string | null> {
      const path = `sys/policies/acl/${encodeURIComponent(name)}`;
      const res = await client.send<Secret<{ policy: string }>>({ method: "GET", path, token, acceptStatus: [404] });
      return res.status === 404 ? null : mustHave(res.body?.data?.policy, "policy", "GET", path);
    },

    /** GET auth/token/roles/<role>; `null` when the role does not exist. */
    async readRole(token: string, role: string): Promise<RoleData | null> {
      const path = `auth/token/roles/${encodeURIComponent(role)}`;
      const res = await client.send<Secret<RoleData>>({ method: "GET", path, token, acceptStatus: [404] });
      return res.status === 404 ? null : mustHave(res.body?.data, "data", "GET", path);
    },

    async ldapLogin(mount: string, username: string, password: string): Promise<SecretAuth> {
      const path = `auth/${mount}/login/${encodeURIComponent(username)}`;
      const res = await client.send<Secret>({ method: "PUT", path, body: { password }, idempotent: false });
      return mustHave(res.body?.auth, "auth", "PUT", path);
    },

    /**
     * POST auth/<mount>/login with `{role, jwt}` (the kubernetes and jwt
     * methods); unauthenticated. Wrapped when `wrapTTL` is given. Not
     * idempotent: each call creates a token. The JWT travels in the body only.
     */
    async login(mount: string, role: string, jwt: string, wrapTTL: string | undefined): Promise<Secret> {
      const path = `auth/${mount}/login`;
      const res = await client.send<Secret>({ method: "POST", path, body: { role, jwt }, wrapTTL, idempotent: false });
      return mustHave(res.body, "body", "POST", path);
    },

    /** GET sys/health; its special status codes are data, not errors. */
    async health(): Promise<{ status: number; health: HealthStatus | null }> {
      const res = await client.send<HealthStatus>({ method: "GET", path: "sys/health", acceptStatus: [429, 472, 473, 501, 503], rootNamespace: true });
      return { status: res.status, health: res.body };
    },
  };
}

export type VaultApi = ReturnType<typeof vaultApi>;
