import { DriverError } from "../errors.ts";
import type { MountRequest } from "../flex/options.ts";
import type { VaultApi, Secret } from "../vault/api.ts";
import { registerSecret } from "../log/scrub.ts";

export const TOKEN_CREATOR = "kubernetes-flexvolume-vault-plugin";

/** A pod token as it goes into the volume, plus what the journal needs to revoke it. */
export interface MintedToken {
  /** What the pod gets: the wrapping token, or the client token when unwrapped. */
  readonly fileToken: string;
  /** Written beside it: `wrap_info` when wrapped, the whole response when unwrapped. */
  readonly fileJson: unknown;
  readonly accessor: string;
  readonly wrappingAccessor: string | undefined;
  readonly ttlSeconds: number;
  /**
   * A check mount runs once the accessor is journaled and before the volume
   * is built (pod identity mode: the login's policies against vault/policies);
   * it throws to fail the mount, which then revokes the token.
   */
  readonly checkAfterJournal?: (nodeToken: string) => Promise<void>;
}

export function tokenMetadata(req: MountRequest, node: string): Record<string, string> {
  return {
    poduid: req.pod.uid,
    creator: TOKEN_CREATOR,
    namespace: req.pod.namespace,
    pod: req.pod.name,
    serviceaccount: req.pod.serviceAccount,
    volume: req.volume.volumeName,
    node,
  };
}

/**
 * Creates the pod's token against `role`. Wrapped unless the pod asked for
 * `vault/unwrap`; a wrapped request that comes back unwrapped is refused (and
 * the caller revokes what it can), because the driver would otherwise put a
 * live token where a single-use one was promised.
 */
export async function mintPodToken(opts: {
  api: VaultApi;
  generatorToken: string;
  role: string;
  req: MountRequest;
  node: string;
  wrapTTL: string | undefined;
  ttlSeconds: number | undefined;
}): Promise<MintedToken> {
  const { req } = opts;
  const secret: Secret = await opts.api.createToken(
    opts.generatorToken,
    opts.role,
    {
      policies: req.policies,
      meta: tokenMetadata(req, opts.node),
      display_name: `${req.pod.namespace}-${req.pod.name}`.slice(0, 100),
      ...(opts.ttlSeconds === undefined ? {} : { ttl: `${opts.ttlSeconds}s` }),
    },
    opts.wrapTTL,
  );
  registerSecret(secret.wrap_info?.token);
  registerSecret(secret.auth?.client_token);
  if (opts.wrapTTL !== undefined) {
    const wrap = secret.wrap_info;
    if (!wrap?.token || !wrap.wrapped_accessor) {
      throw new UnexpectedResponseError("Vault returned no wrap_info for a wrapped token request; set VAULT_WRAP_TTL (e.g. 5m) or use vault/unwrap", secret.auth?.accessor);
    }
    return { fileToken: wrap.token, fileJson: wrap, accessor: wrap.wrapped_accessor, wrappingAccessor: wrap.accessor, ttlSeconds: 0 };
  }
  const auth = secret.auth;
  if (!auth?.client_token || !auth.accessor) throw new UnexpectedResponseError("Vault's token-create response has no auth.client_token", undefined);
  return { fileToken: auth.client_token, fileJson: secret, accessor: auth.accessor, wrappingAccessor: undefined, ttlSeconds: auth.lease_duration };
}

/** Vault said yes but not in the shape we need; carries any accessor so the caller can revoke it. */
export class UnexpectedResponseError extends DriverError {
  override name = "UnexpectedResponseError";
  constructor(message: string, readonly accessor: string | undefined) {
    super(message);
  }
}
