import { checkRoleTemplate, isRoleTemplate } from "./authz/authorize.ts";
import { hostname } from "node:os";
import { isAbsolute } from "node:path";
import { ConfigError, errorMessage } from "./errors.ts";
import { parseDurationSecond, parseGoBool, parseGoUint32 } from "./env/goparse.ts";
import { loadPodIdentityConfig, MODE_ENV, parseMode, type PodIdentityConfig } from "./identity/config.ts";

/** Names of every environment variable the driver reads. */
export const ENV = {
  VAULT_ADDR: "VAULT_ADDR",
  VAULT_AGENT_ADDR: "VAULT_AGENT_ADDR",
  VAULT_CACERT: "VAULT_CACERT",
  VAULT_CACERT_BYTES: "VAULT_CACERT_BYTES",
  VAULT_CAPATH: "VAULT_CAPATH",
  VAULT_CLIENT_CERT: "VAULT_CLIENT_CERT",
  VAULT_CLIENT_KEY: "VAULT_CLIENT_KEY",
  VAULT_SKIP_VERIFY: "VAULT_SKIP_VERIFY",
  VAULT_TLS_SERVER_NAME: "VAULT_TLS_SERVER_NAME",
  VAULT_CLIENT_TIMEOUT: "VAULT_CLIENT_TIMEOUT",
  VAULT_MAX_RETRIES: "VAULT_MAX_RETRIES",
  VAULT_MAX_RETRY: "VAULT_MAX_RETRY",
  VAULT_NAMESPACE: "VAULT_NAMESPACE",
  VAULT_WRAP_TTL: "VAULT_WRAP_TTL",
  VAULT_TOKEN: "VAULT_TOKEN",
  GENERATOR_TOKEN_PATH: "VAULTTMPFS_GENERATOR_TOKEN_PATH",
  TOKEN_FILENAME: "VAULTTMPFS_TOKEN_FILENAME",
  ROLE_NAME: "VAULTTMPFS_ROLE_NAME",
  DEFAULT_ROLE_NAME: "VAULTTMPFS_DEFAULT_ROLE_NAME",
  LOG_FILE: "VAULTTMPFS_LOG_FILE",
  STATE_DIR: "VAULTTMPFS_STATE_DIR",
  NODE_NAME: "VAULTTMPFS_NODE_NAME",
  ALLOWED_POLICIES: "VAULTTMPFS_ALLOWED_POLICIES",
  ALLOWED_ROLES: "VAULTTMPFS_ALLOWED_ROLES",
  MAX_TTL: "VAULTTMPFS_MAX_TTL",
} as const;

export const DEFAULTS = {
  address: "https://127.0.0.1:8200",
  timeoutMs: 60_000,
  maxRetries: 2,
  wrapTTL: "5m",
  generatorTokenPath: "/etc/kubernetes/vaulttoken",
  tokenFileName: "vault-token",
  roleName: "applications",
  logFile: "/var/log/vaulttmpfs.log",
  stateDir: "/var/lib/vaulttmpfs",
} as const;

/** How to reach and trust Vault. Only the node's environment sets these; pod options never do. */
export interface VaultConfig {
  /** Base URL. `VAULT_AGENT_ADDR` supersedes `VAULT_ADDR`; default `https://127.0.0.1:8200`. */
  readonly address: string;
  /** Set when the address is `unix:///path`: requests go over that socket to `http://localhost`. */
  readonly unixSocket: string | undefined;
  /** `VAULT_CACERT` (a file) wins over `VAULT_CACERT_BYTES` (PEM text), which wins over `VAULT_CAPATH` (a dir). */
  readonly ca: { readonly file: string } | { readonly pem: string } | { readonly dir: string } | undefined;
  readonly clientCert: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly skipVerify: boolean;
  readonly tlsServerName: string | undefined;
  /**
   * Overall deadline of one logical call, retries included. Go reads a
   * negative `VAULT_CLIENT_TIMEOUT` as "none"; a kubelet call must still end,
   * so "none" here is `UNBOUNDED_TIMEOUT_MS`.
   */
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly namespace: string | undefined;
  /** Raw header value for `X-Vault-Wrap-TTL`; `wrapSeconds` is 0 when wrapping is off (`VAULT_WRAP_TTL=0`). */
  readonly wrapTTL: string;
  readonly wrapSeconds: number;
}

export interface DriverConfig {
  readonly vault: VaultConfig;
  readonly generatorTokenPath: string;
  /** Base name of the token file inside the volume; the JSON goes to `<name>.json`. */
  readonly tokenFileName: string;
  /** Default token role; may hold `{namespace}` and `{serviceaccount}` placeholders. */
  readonly roleName: string;
  /** `null` disables the operation log. */
  readonly logFile: string | null;
  readonly stateDir: string;
  /** Reported to Vault in the token's `node` metadata. */
  readonly nodeName: string;
  /** Glob patterns (with placeholders) every requested policy must match. */
  readonly allowedPolicies: readonly string[];
  /** Glob patterns for `vault/role`; `null` = the option is refused (templated role, no explicit list). */
  readonly allowedRoles: readonly string[] | null;
  /** Upper bound for `vault/ttl`, in seconds; `null` = no bound beyond the role's. */
  readonly maxTtlSeconds: number | null;
  /** `VAULT_TOKEN`, read for operator commands only (bootstrap); driver commands never use it. */
  readonly operatorToken: string | undefined;
  /** Set in pod identity mode only (`VAULTTMPFS_MODE=pod-identity`, see identity/config.ts); null in token-role mode. */
  readonly podIdentity: PodIdentityConfig | null;
  /**
   * The node's own Vault token, the one unmount, gc and renewal use: the
   * generator in token-role mode, the revoke-only token in pod identity mode.
   */
  readonly nodeToken: NodeTokenFile;
}

/** The node's token file, and which of the two it is (for messages that name the fix). */
export interface NodeTokenFile {
  readonly path: string;
  readonly kind: "generator" | "revoke-only";
}

/** What a negative `VAULT_CLIENT_TIMEOUT` (Go: no deadline) means here: the kubelet has no timeout of its own. */
export const UNBOUNDED_TIMEOUT_MS = 5 * 60_000;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads the whole configuration once. Throws a `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env): DriverConfig {
  // Go's client ignores empty VAULT_* values; do the same.
  const get = (name: string): string | undefined => (env[name] === "" ? undefined : env[name]);
  const parse = <T>(name: string, fn: (v: string) => T): T | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    try {
      return fn(raw);
    } catch (err) {
      throw new ConfigError(name, `could not parse ${JSON.stringify(raw)}: ${errorMessage(err)}`);
    }
  };

  const vault = loadVaultConfig(get, parse);
  const tokenFileName = get(ENV.TOKEN_FILENAME) ?? DEFAULTS.tokenFileName;
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(tokenFileName) || tokenFileName.length > 200) {
    throw new ConfigError(ENV.TOKEN_FILENAME, `must be a plain file name (letters, digits, '.', '_', '-'; not starting with '.'), got ${JSON.stringify(tokenFileName)}`);
  }
  const stateDir = get(ENV.STATE_DIR) ?? DEFAULTS.stateDir;
  if (!isAbsolute(stateDir) || stateDir.includes("/pods/") || stateDir.includes("kubelet-plugins")) {
    throw new ConfigError(ENV.STATE_DIR, "must be an absolute path outside the kubelet's pod and plugin directories");
  }
  const logFile = logFileFrom(env);
  if (logFile === undefined) throw new ConfigError(ENV.LOG_FILE, "must be an absolute path, or empty to disable logging");

  const mode = parseMode(get(MODE_ENV));
  const podIdentity = mode === "pod-identity" ? loadPodIdentityConfig(get) : null;
  // The token-role settings are judged only where they are used: a leftover value must not fail pod identity mounts.
  // (Pod identity mode still carries roleName, unjudged: doctor and bootstrap --revoke-only sample it as a path the node token must not mint on.)
  const roleName = get(ENV.ROLE_NAME) ?? get(ENV.DEFAULT_ROLE_NAME) ?? DEFAULTS.roleName;
  const generatorTokenPath = get(ENV.GENERATOR_TOKEN_PATH) ?? DEFAULTS.generatorTokenPath;
  let maxTtl: number | undefined;
  if (!podIdentity) {
    checkRoleTemplate(ENV.ROLE_NAME, roleName);
    if (!isAbsolute(generatorTokenPath)) throw new ConfigError(ENV.GENERATOR_TOKEN_PATH, "must be an absolute path");
    // Pod identity mode refuses vault/ttl (the login role sets the TTL), so it has no bound to read.
    maxTtl = parse(ENV.MAX_TTL, (v) => {
      const ms = parseDurationSecond(v);
      if (ms <= 0) throw new Error("must be a positive duration");
      return Math.floor(ms / 1000);
    });
  }
  const allowedPolicies = parse(ENV.ALLOWED_POLICIES, parseList) ?? ["*"];
  const explicitRoles = parse(ENV.ALLOWED_ROLES, parseList);
  // The role a pod gets by default is the login role in pod identity mode: a templated one forbids vault/role unless listed.
  const allowedRoles = explicitRoles ?? (isRoleTemplate(podIdentity?.loginRole ?? roleName) ? null : ["*"]);

  return Object.freeze({
    vault,
    generatorTokenPath,
    tokenFileName,
    roleName,
    logFile,
    stateDir,
    nodeName: get(ENV.NODE_NAME) ?? hostname(),
    allowedPolicies: Object.freeze(allowedPolicies),
    allowedRoles: allowedRoles && Object.freeze(allowedRoles),
    maxTtlSeconds: maxTtl ?? null,
    operatorToken: get(ENV.VAULT_TOKEN),
    podIdentity,
    nodeToken: Object.freeze(podIdentity ? { path: podIdentity.revokeTokenPath, kind: "revoke-only" as const } : { path: generatorTokenPath, kind: "generator" as const }),
  });
}

/**
 * The operation log's path on its own, so a call that fails before the whole
 * config loads (bad argv, a bad variable) is still logged. `null` = disabled,
 * `undefined` = malformed.
 */
export function logFileFrom(env: Env): string | null | undefined {
  const raw = env[ENV.LOG_FILE];
  if (raw === undefined) return DEFAULTS.logFile;
  if (raw === "") return null;
  return isAbsolute(raw) ? raw : undefined;
}

type Getter = (name: string) => string | undefined;
type Parser = <T>(name: string, fn: (v: string) => T) => T | undefined;

function loadVaultConfig(get: Getter, parse: Parser): VaultConfig {
  const addrVar = get(ENV.VAULT_AGENT_ADDR) !== undefined ? ENV.VAULT_AGENT_ADDR : ENV.VAULT_ADDR;
  const { address, unixSocket } = parse(addrVar, parseAddress) ?? { address: DEFAULTS.address, unixSocket: undefined };

  const caFile = get(ENV.VAULT_CACERT);
  const caPem = get(ENV.VAULT_CACERT_BYTES);
  const caDir = get(ENV.VAULT_CAPATH);
  const ca = caFile ? { file: caFile } : caPem ? { pem: caPem } : caDir ? { dir: caDir } : undefined;
  if (caPem && !caFile && !caPem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(ENV.VAULT_CACERT_BYTES, "must hold PEM certificates (-----BEGIN CERTIFICATE-----)");
  }

  const certFile = get(ENV.VAULT_CLIENT_CERT);
  const keyFile = get(ENV.VAULT_CLIENT_KEY);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(certFile ? ENV.VAULT_CLIENT_KEY : ENV.VAULT_CLIENT_CERT, "both client cert and client key must be provided");
  }

  const timeout = parse(ENV.VAULT_CLIENT_TIMEOUT, parseDurationSecond);
  const retries =
    parse(ENV.VAULT_MAX_RETRIES, parseGoUint32) ?? parse(ENV.VAULT_MAX_RETRY, parseGoUint32) ?? DEFAULTS.maxRetries;
  const wrapTTL = get(ENV.VAULT_WRAP_TTL) ?? DEFAULTS.wrapTTL;
  const wrapMs = parse(ENV.VAULT_WRAP_TTL, (v) => {
    const ms = parseDurationSecond(v);
    if (ms < 0) throw new Error("requested wrap ttl cannot be negative");
    return ms;
  });

  return Object.freeze({
    address,
    unixSocket,
    ca,
    clientCert: certFile && keyFile ? { certFile, keyFile } : undefined,
    skipVerify: parse(ENV.VAULT_SKIP_VERIFY, parseGoBool) ?? false,
    tlsServerName: get(ENV.VAULT_TLS_SERVER_NAME),
    // Go: 0 keeps the default, a negative value disables the deadline.
    timeoutMs: timeout === undefined || timeout === 0 ? DEFAULTS.timeoutMs : timeout < 0 ? UNBOUNDED_TIMEOUT_MS : timeout,
    maxRetries: retries,
    namespace: get(ENV.VAULT_NAMESPACE),
    wrapTTL,
    wrapSeconds: Math.floor((wrapMs ?? 300_000) / 1000),
  });
}

function parseAddress(raw: string): { address: string; unixSocket: string | undefined } {
  const url = new URL(raw);
  if (url.protocol === "unix:") {
    if (!url.pathname) throw new Error("unix:// address needs a socket path");
    return { address: "http://localhost", unixSocket: url.pathname };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`unsupported scheme ${url.protocol}`);
  return { address: raw.replace(/\/+$/, ""), unixSocket: undefined };
}

/** Comma-separated list: entries trimmed, empty entries dropped. */
export function parseList(raw: string): string[] {
  return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
}
