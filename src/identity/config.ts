/**
 * Node configuration of pod identity mode. Parsed with the rest of the
 * config (a few variables, no I/O), so a bad value fails every call the same
 * way; the code that uses it (kube client, login) is imported lazily.
 */
import { isAbsolute } from "node:path";
import { ConfigError, errorMessage } from "../errors.ts";
import { parseDurationSecond } from "../env/goparse.ts";
import { checkRoleTemplate } from "../authz/authorize.ts";
import { isAuthMount } from "../vault/names.ts";

export const MODE_ENV = "VAULTTMPFS_MODE";

/** `token-role`: the node's generator token mints pod tokens (the default). `pod-identity`: each pod logs in as its service account. */
export type DriverMode = "token-role" | "pod-identity";

export const IDENTITY_ENV = {
  KUBECONFIG: "VAULTTMPFS_KUBECONFIG",
  AUDIENCE: "VAULTTMPFS_SA_AUDIENCE",
  TOKEN_TTL: "VAULTTMPFS_SA_TOKEN_TTL",
  AUTH_MOUNT: "VAULTTMPFS_AUTH_MOUNT",
  LOGIN_ROLE: "VAULTTMPFS_LOGIN_ROLE",
  REVOKE_TOKEN_PATH: "VAULTTMPFS_REVOKE_TOKEN_PATH",
} as const;

export const IDENTITY_DEFAULTS = {
  /** kubeadm's kubelet kubeconfig; k3s, RKE2 and cloud images differ (README). */
  kubeconfig: "/etc/kubernetes/kubelet.conf",
  audience: "vault",
  /** TokenRequest's minimum: the JWT is used once, within a second; a stolen one is useless soon. */
  tokenTtlSeconds: 600,
  authMount: "kubernetes",
  loginRole: "{namespace}",
  revokeTokenPath: "/etc/kubernetes/vaulttoken-revoke",
} as const;

/** TokenRequest refuses less than 10 minutes and more than 2^32 seconds (422). */
const MIN_TOKEN_TTL = 600;
const MAX_TOKEN_TTL = 2 ** 32;

export interface PodIdentityConfig {
  /** The kubelet's kubeconfig, whose client certificate asks the API server for the pod's token. */
  readonly kubeconfig: string;
  /** The one audience the service-account token is requested for; the Vault role must expect it. */
  readonly audience: string;
  readonly tokenTtlSeconds: number;
  /** Vault auth mount path (`kubernetes`, `jwt`, `k8s/prod`): login goes to `auth/<mount>/login`. */
  readonly authMount: string;
  /** Vault login role; may hold `{namespace}` and `{serviceaccount}`. */
  readonly loginRole: string;
  /** The node's revoke-only token (accessor revocation at unmount and gc). */
  readonly revokeTokenPath: string;
}

type Getter = (name: string) => string | undefined;

export function parseMode(raw: string | undefined): DriverMode {
  if (raw === undefined || raw === "" || raw === "token-role") return "token-role";
  if (raw === "pod-identity") return "pod-identity";
  throw new ConfigError(MODE_ENV, `must be "token-role" (the default) or "pod-identity", got ${JSON.stringify(raw.slice(0, 60))}`);
}

export function loadPodIdentityConfig(get: Getter): PodIdentityConfig {
  const kubeconfig = get(IDENTITY_ENV.KUBECONFIG) ?? IDENTITY_DEFAULTS.kubeconfig;
  if (!isAbsolute(kubeconfig)) throw new ConfigError(IDENTITY_ENV.KUBECONFIG, `must be an absolute path, got ${JSON.stringify(kubeconfig)}`);

  const audience = get(IDENTITY_ENV.AUDIENCE) ?? IDENTITY_DEFAULTS.audience;
  // One audience only: NodeRestriction refuses a node asking for more ("node may only request 0 or 1 audiences").
  if (audience.includes(",") || /\s/.test(audience) || audience.length > 253) {
    throw new ConfigError(IDENTITY_ENV.AUDIENCE, `must be one audience (no commas or spaces), got ${JSON.stringify(audience.slice(0, 60))}`);
  }

  const rawTtl = get(IDENTITY_ENV.TOKEN_TTL);
  let tokenTtlSeconds: number = IDENTITY_DEFAULTS.tokenTtlSeconds;
  if (rawTtl !== undefined) {
    let ms: number;
    try {
      ms = parseDurationSecond(rawTtl);
    } catch (err) {
      throw new ConfigError(IDENTITY_ENV.TOKEN_TTL, `could not parse ${JSON.stringify(rawTtl)}: ${errorMessage(err)}`);
    }
    tokenTtlSeconds = Math.floor(ms / 1000);
    if (tokenTtlSeconds < MIN_TOKEN_TTL || tokenTtlSeconds > MAX_TOKEN_TTL) {
      throw new ConfigError(IDENTITY_ENV.TOKEN_TTL, `must be between 10m and 2^32s (the API server's TokenRequest limits), got ${JSON.stringify(rawTtl)}`);
    }
  }

  const authMount = (get(IDENTITY_ENV.AUTH_MOUNT) ?? IDENTITY_DEFAULTS.authMount).replace(/^\/+|\/+$/g, "");
  if (!isAuthMount(authMount)) throw new ConfigError(IDENTITY_ENV.AUTH_MOUNT, `${JSON.stringify(authMount.slice(0, 60))} is not a Vault auth mount path (e.g. kubernetes, jwt or k8s/prod)`);

  const loginRole = get(IDENTITY_ENV.LOGIN_ROLE) ?? IDENTITY_DEFAULTS.loginRole;
  checkRoleTemplate(IDENTITY_ENV.LOGIN_ROLE, loginRole);

  const revokeTokenPath = get(IDENTITY_ENV.REVOKE_TOKEN_PATH) ?? IDENTITY_DEFAULTS.revokeTokenPath;
  if (!isAbsolute(revokeTokenPath)) throw new ConfigError(IDENTITY_ENV.REVOKE_TOKEN_PATH, "must be an absolute path");

  return Object.freeze({ kubeconfig, audience, tokenTtlSeconds, authMount, loginRole, revokeTokenPath });
}
