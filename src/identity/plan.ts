/**
 * The pod identity half of `planMount`: what can be refused before any
 * request. Pure; the tenancy rules are the token-role mode's (templates and
 * VAULTTMPFS_ALLOWED_ROLES), applied to the Vault login role.
 */
import { resolveRole } from "../authz/authorize.ts";
import type { DriverConfig } from "../config.ts";
import { ForbiddenError, InvalidRequestError } from "../errors.ts";
import { OPTION, type MountRequest } from "../flex/options.ts";
import { IDENTITY_ENV, type PodIdentityConfig } from "./config.ts";

/** The Vault login role for this pod. Throws when the request cannot be served in this mode. */
export function planLoginRole(req: MountRequest, config: DriverConfig, identity: PodIdentityConfig): string {
  if (req.pod.serviceAccount === "") {
    // Never guess "default": the token would be for an identity the pod may not run as.
    throw new InvalidRequestError("the kubelet did not pass kubernetes.io/serviceAccount.name; pod identity mode needs the pod's service account");
  }
  if (req.ttlSeconds !== undefined) {
    throw new ForbiddenError(`${OPTION.ttl} is not supported in pod identity mode: the Vault role ${JSON.stringify(identity.loginRole)} sets the token's TTL (token_ttl, token_period); remove the option`);
  }
  return resolveRole({ defaultRole: identity.loginRole, requested: req.role, allowedRoles: config.allowedRoles, pod: req.pod, templateVariable: IDENTITY_ENV.LOGIN_ROLE });
}
