/**
 * Pod identity mode at mount: the service-account token from the API server
 * (with the kubelet's identity), then the Vault login with it. Imported
 * lazily by mount.ts, so token-role mode never loads the kube client.
 */
import type { MountRequest } from "../flex/options.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { requestPodToken } from "../kube/token-request.ts";
import { loginPodToken } from "../token/login.ts";
import type { MintedToken } from "../token/mint.ts";
import type { VaultApi } from "../vault/api.ts";
import type { PodIdentityConfig } from "./config.ts";

export async function obtainPodToken(opts: {
  api: VaultApi;
  identity: PodIdentityConfig;
  req: MountRequest;
  role: string;
  wrapTTL: string | undefined;
  signal: AbortSignal;
}): Promise<MintedToken> {
  const { identity, req } = opts;
  const target = loadKubeconfig(identity.kubeconfig);
  const sa = await requestPodToken(target, { pod: req.pod, audience: identity.audience, expirationSeconds: identity.tokenTtlSeconds }, { signal: opts.signal });
  return loginPodToken({ api: opts.api, mount: identity.authMount, role: opts.role, jwt: sa.jwt, wrapTTL: opts.wrapTTL, requestedPolicies: req.policies });
}
