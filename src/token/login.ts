/**
 * Pod identity mode's counterpart of mint.ts: the pod's token comes from a
 * login at `auth/<mount>/login` with the pod's own service-account JWT, so
 * the Vault role (bound to the namespace and service account) decides its
 * policies. `vault/policies`, when given, is the pod's expectation of them.
 */
import { DriverError, ForbiddenError, errorMessage } from "../errors.ts";
import type { Secret, SecretAuth, VaultApi } from "../vault/api.ts";
import { UnexpectedResponseError, type MintedToken } from "./mint.ts";

/** Every policy a login token carries: its own, plus those its identity brings. */
export function grantedPolicies(auth: SecretAuth): string[] {
  return [...new Set([...(auth.token_policies ?? []), ...(auth.policies ?? []), ...(auth.identity_policies ?? [])])];
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
  /**
   * Revokes by accessor with the node's token: the fallback when a login
   * token cannot revoke itself (a role with token_no_default_policy has no
   * revoke-self).
   */
  readonly revokeAccessor: (accessor: string) => Promise<unknown>;
}

function checkPolicies(req: LoginRequest, auth: SecretAuth): void {
  const granted = grantedPolicies(auth);
  const missing = missingPolicies(req.requestedPolicies, granted);
  if (missing.length === 0) return;
  throw new PolicyMismatchError(
    `vault/policies asks for ${missing.map((p) => JSON.stringify(p)).join(", ")}, which Vault role ${JSON.stringify(req.role)} at auth/${req.mount} does not grant (it grants ${granted.join(", ") || "nothing"}); the login token was revoked. Fix the role or the option`,
  );
}

/**
 * Revokes a login token the pod will not get. Never silent: a token the
 * driver made and cannot revoke fails the mount, since nothing would track it.
 */
async function dispose(req: LoginRequest, auth: SecretAuth): Promise<void> {
  try {
    await req.api.revokeSelf(auth.client_token);
    return;
  } catch (selfErr) {
    try {
      await req.revokeAccessor(auth.accessor);
    } catch (err) {
      throw new DriverError(`cannot revoke the login token the driver used to check vault/policies (revoke-self: ${errorMessage(selfErr)}; revoke-accessor: ${errorMessage(err)}); it expires with its TTL`);
    }
  }
}

function unwrappedAuth(secret: Secret, path: string): SecretAuth {
  const auth = secret.auth;
  if (!auth?.client_token || !auth.accessor) throw new UnexpectedResponseError(`Vault's ${path} response has no auth.client_token and accessor (a batch-token role cannot be revoked by accessor; use token_type=service)`, undefined);
  return auth;
}

/**
 * Logs the pod in. Wrapped unless `vault/unwrap`. When `vault/policies` is
 * given the driver must see what the role grants, which a wrapped answer
 * hides without spending its single use: it then logs in once unwrapped,
 * compares, revokes that token itself (revoke-self, no node rights needed),
 * and only on a match logs in again for the pod, wrapped.
 */
export async function loginPodToken(req: LoginRequest): Promise<MintedToken> {
  const path = `auth/${req.mount}/login`;
  if (req.wrapTTL === undefined || req.requestedPolicies.length > 0) {
    const secret = await req.api.login(req.mount, req.role, req.jwt, undefined);
    const auth = unwrappedAuth(secret, path);
    const probeOnly = req.wrapTTL !== undefined;
    try {
      checkPolicies(req, auth);
    } catch (err) {
      await dispose(req, auth);
      throw err;
    }
    if (!probeOnly) return { fileToken: auth.client_token, fileJson: secret, accessor: auth.accessor, wrappingAccessor: undefined, ttlSeconds: auth.lease_duration };
    await dispose(req, auth);
  }
  const secret = await req.api.login(req.mount, req.role, req.jwt, req.wrapTTL);
  const wrap = secret.wrap_info;
  if (!wrap?.token || !wrap.wrapped_accessor) {
    throw new UnexpectedResponseError(`Vault returned no wrap_info with a wrapped_accessor for ${path} (a batch-token role has no accessor to revoke; use token_type=service)`, secret.auth?.accessor);
  }
  return { fileToken: wrap.token, fileJson: wrap, accessor: wrap.wrapped_accessor, wrappingAccessor: wrap.accessor, ttlSeconds: 0 };
}
