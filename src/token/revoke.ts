import type { VaultApi } from "../vault/api.ts";

export interface Revocable {
  readonly accessor: string;
}

/**
 * Revokes a pod token by its accessor: one Vault request. The wrapping token
 * it may have been handed out in is left to expire (VAULT_WRAP_TTL): it is
 * single-use, holds only the `response-wrapping` policy, and once the pod
 * token is revoked it wraps a dead token, so unwrapping it grants nothing
 * (README, "Token lifecycle and its guarantees"). Vault's "No token found
 * with this accessor" counts as done (expired or already revoked).
 */
export async function revokePodToken(api: VaultApi, generatorToken: string, target: Revocable): Promise<void> {
  await api.revokeAccessor(generatorToken, target.accessor);
}
