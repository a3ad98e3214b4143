/**
 * Pod identity mode's counterpart of mint.ts: the pod's token comes from a
 * login at `auth/<mount>/login` with the pod's own service-account JWT, so
 * the Vault role (bound to the namespace and service account) decides its
 * policies. `vault/policies`, when given, is the pod's expectation of them.
 */
import { ForbiddenError } from "../errors.ts";
import { registerSecret } from "../log/scrub.ts";
import type { AccessorLookupData, SecretAuth, VaultApi } from "../vault/api.ts";
import { UnexpectedResponseError, type MintedToken } from "./mint.ts";

/** Every policy a login token carries: its own, plus those its identity brings. */
export function grantedPolicies(auth: Pick<SecretAuth, "policies" | "token_policies" | "identity_policies"> | AccessorLookupData): string[] {
  const own = "token_policies" in auth ? (auth.token_policies ?? []) : [];
  return [...new Set([...own, ...(auth.policies ?? []), ...(auth.identity_policies ?? [])])];
}

/** The requested policies the login did not grant (empty = the request is met). */
export function missingPolicies(requested: readonly string[], granted: readonly string[]): string[] {
  return requested.filter((p) => !granted.includes(p));
}

export class PolicyMismatchError extends ForbiddenError {
  override name = "PolicyMismatchError";
}

export interface LoginRequest {
  readonly api: VaultApi;
  readonly mount: string;
  readonly role: string;
  readonly jwt: string;
  /** `undefined` = the pod asked for vault/unwrap. */
  readonly wrapTTL: string | undefined;
  /** `vault/policies`; empty when the pod left the choice to the role. */
  readonly requestedPolicies: readonly string[];
}

/**
 * Logs the pod in: exactly one login, wrapped unless `vault/unwrap`. When
 * `vault/policies` is given, the comparison is returned as the token's
 * `checkAfterJournal`, for mount to run once the accessor is journaled: a
 * crash during the check then leaves a token that gc knows, never one that
 * nobody tracks. An unwrapped answer shows its policies; a wrapped one hides
 * them, so the check asks Vault by accessor (auth/token/lookup-accessor, with
 * the node's revoke-only token) rather than spend the pod's single unwrap.
 */
export async function loginPodToken(req: LoginRequest): Promise<MintedToken> {
  const path = `auth/${req.mount}/login`;
  const secret = await req.api.login(req.mount, req.role, req.jwt, req.wrapTTL);
  if (req.wrapTTL === undefined) {
    const auth = secret.auth;
    if (!auth?.client_token || !auth.accessor) {
      throw new UnexpectedResponseError(`Vault's ${path} response has no auth.client_token and accessor (a batch-token role cannot be revoked by accessor; use token_type=service)`, auth?.accessor);
    }
    registerSecret(auth.client_token);
    return {
      fileToken: auth.client_token, fileJson: secret, accessor: auth.accessor, wrappingAccessor: undefined, ttlSeconds: auth.lease_duration,
      ...policyCheck(req, async () => grantedPolicies(auth)),
    };
  }
  const wrap = secret.wrap_info;
  if (!wrap?.token || !wrap.wrapped_accessor) {
    throw new UnexpectedResponseError(`Vault returned no wrap_info with a wrapped_accessor for ${path} (a batch-token role has no accessor to revoke; use token_type=service)`, secret.auth?.accessor);
  }
  registerSecret(wrap.token);
  const accessor = wrap.wrapped_accessor;
  return {
    fileToken: wrap.token, fileJson: wrap, accessor, wrappingAccessor: wrap.accessor, ttlSeconds: 0,
    ...policyCheck(req, async (nodeToken) => grantedPolicies(await req.api.lookupAccessor(nodeToken, accessor))),
  };
}

function policyCheck(req: LoginRequest, granted: (nodeToken: string) => Promise<string[]>): Pick<MintedToken, "checkAfterJournal"> {
  if (req.requestedPolicies.length === 0) return {};
  return {
    async checkAfterJournal(nodeToken) {
      const have = await granted(nodeToken);
      const missing = missingPolicies(req.requestedPolicies, have);
      if (missing.length === 0) return;
      throw new PolicyMismatchError(
        `vault/policies asks for ${missing.map((p) => JSON.stringify(p)).join(", ")}, which Vault role ${JSON.stringify(req.role)} at auth/${req.mount} does not grant (it grants ${have.join(", ") || "nothing"}); the driver revokes the login token. Fix the role or the option`,
      );
    },
  };
}
