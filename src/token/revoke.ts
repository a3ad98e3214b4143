import type { VaultApi } from "../vault/api.ts";

export interface Revocable {
  readonly accessor: string;
  readonly wrappingAccessor: string | undefined;
}

/**
 * Revokes a pod token and, when it was handed out wrapped, the wrapping token
 * too, so nobody can unwrap it later. Vault's "No token found with this
 * accessor" counts as done (expired or already revoked).
 */
export async function revokePodToken(api: VaultApi, generatorToken: string, target: Revocable): Promise<void> {
  await api.revokeAccessor(generatorToken, target.accessor);
  if (target.wrappingAccessor) await api.revokeAccessor(generatorToken, target.wrappingAccessor);
}
