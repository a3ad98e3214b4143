import type { World } from "./world.ts";

/** Calls the emulator the way an app in the pod would, over TLS with the test CA. */
export async function vaultCall(world: World, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${world.vault.url}/v1/${path}`, {
    method,
    headers: { ...(token ? { "X-Vault-Token": token } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    tls: { ca: world.pki.ca },
  } as RequestInit);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** What the app does with the file: unwrap the single-use token into its real token. */
export function unwrap(world: World, wrappingToken: string) {
  return vaultCall(world, "PUT", "sys/wrapping/unwrap", wrappingToken);
}
