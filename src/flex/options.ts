import { InvalidRequestError, errorMessage } from "../errors.ts";
import { parseDurationSecond, parseGoBool } from "../env/goparse.ts";
import { parsePodVolumePath, type PodVolumePath } from "./podpath.ts";
import { SECRET_OPTION_PREFIX } from "./protocol.ts";
import { isRoleName } from "../vault/names.ts";

/** Who the pod is, from the kubelet's own `kubernetes.io/*` keys (a pod author cannot set those). */
export interface PodIdentity {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
}

/** Everything `mount` needs, validated; nothing here has touched the disk or Vault. */
export interface MountRequest {
  readonly volume: PodVolumePath;
  readonly pod: PodIdentity;
  /** Sanitised as Vault would (trimmed, lower-cased, de-duplicated), in request order. Empty only in pod identity mode, when the pod left the choice to the Vault role. */
  readonly policies: readonly string[];
  /** `vault/role`, when the pod named one. */
  readonly role: string | undefined;
  readonly unwrap: boolean;
  readonly fileMode: number | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** The pod's `securityContext.fsGroup`, which the driver applies itself. */
  readonly fsGroup: number | undefined;
  readonly readOnly: boolean;
  /** `vault/ttl`, in seconds. */
  readonly ttlSeconds: number | undefined;
}

export const OPTION = {
  policies: "vault/policies",
  role: "vault/role",
  unwrap: "vault/unwrap",
  filePermissions: "vault/filePermissions",
  uid: "vault/uid",
  gid: "vault/gid",
  ttl: "vault/ttl",
} as const;
const KNOWN_VAULT_OPTIONS: readonly string[] = Object.values(OPTION);

const K8S = {
  podUid: "kubernetes.io/pod.uid",
  podNamespace: "kubernetes.io/pod.namespace",
  podName: "kubernetes.io/pod.name",
  serviceAccount: "kubernetes.io/serviceAccount.name",
  readwrite: "kubernetes.io/readwrite",
  fsGroup: "kubernetes.io/mounterArgs.FsGroup",
  legacyFsGroup: "kubernetes.io/fsGroup",
} as const;

/** Parses the kubelet's options JSON: an object whose values are all strings. */
export function parseOptionsJson(json: string | undefined): Record<string, string> {
  if (json === undefined) throw new InvalidRequestError("missing the JSON options argument");
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new InvalidRequestError(`options are not valid JSON: ${errorMessage(err)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError("options must be a JSON object of strings");
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== "string") {
      throw new InvalidRequestError(`option ${JSON.stringify(key)} must be a string (quote numbers and booleans in the pod spec)`);
    }
  }
  return parsed as Record<string, string>;
}

/** `mount <dir> <json>`, or the pre-1.6 `mount <dir> <device> <json>`. */
export function parseMountArgs(args: readonly string[], opts: { readonly policiesRequired: boolean } = { policiesRequired: true }): MountRequest {
  if (args.length !== 2 && args.length !== 3) {
    throw new InvalidRequestError(`mount takes <dir> <json-options> (or <dir> <device> <json-options>), got ${args.length} argument(s)`);
  }
  const volume = parsePodVolumePath(args[0]);
  return buildMountRequest(volume, parseOptionsJson(args[args.length - 1]), opts);
}

export function buildMountRequest(volume: PodVolumePath, options: Record<string, string>, opts: { readonly policiesRequired: boolean } = { policiesRequired: true }): MountRequest {
  const unknown = Object.keys(options).filter((k) => k.startsWith("vault/") && !KNOWN_VAULT_OPTIONS.includes(k));
  if (unknown.length > 0) {
    throw new InvalidRequestError(`unknown option(s) ${unknown.map((k) => JSON.stringify(k)).join(", ")}; known options: ${KNOWN_VAULT_OPTIONS.join(", ")}`);
  }
  if (Object.keys(options).some((k) => k.startsWith(SECRET_OPTION_PREFIX))) {
    throw new InvalidRequestError("this driver takes no secretRef: remove secretRef from the volume (the kubelet would pass its values in argv)");
  }
  const uid = options[K8S.podUid];
  if (uid !== undefined && uid !== volume.podUid) {
    throw new InvalidRequestError(`pod UID ${JSON.stringify(uid)} from the kubelet does not match ${JSON.stringify(volume.podUid)} in the volume directory`);
  }
  const namespace = options[K8S.podNamespace];
  const name = options[K8S.podName];
  if (!namespace || !name) {
    throw new InvalidRequestError(`the kubelet did not pass ${K8S.podNamespace} and ${K8S.podName}; this driver needs Kubernetes 1.8 or later`);
  }
  const readwrite = options[K8S.readwrite];
  if (readwrite !== undefined && readwrite !== "ro" && readwrite !== "rw") {
    throw new InvalidRequestError(`invalid value for ${JSON.stringify(K8S.readwrite)}: expected "ro" or "rw", got ${JSON.stringify(readwrite)}`);
  }
  const fsGroupRaw = options[K8S.fsGroup] ?? options[K8S.legacyFsGroup];
  const fileModeRaw = options[OPTION.filePermissions];
  return {
    volume,
    pod: { uid: volume.podUid, namespace, name, serviceAccount: options[K8S.serviceAccount] ?? "" },
    policies: !opts.policiesRequired && options[OPTION.policies] === undefined ? [] : parsePolicies(options[OPTION.policies]),
    role: parseRoleOption(options[OPTION.role]),
    unwrap: parseUnwrap(options[OPTION.unwrap]),
    fileMode: fileModeRaw === undefined ? undefined : parseFileMode(fileModeRaw),
    uid: parseId(OPTION.uid, options[OPTION.uid]),
    gid: parseId(OPTION.gid, options[OPTION.gid]),
    fsGroup: parseId(options[K8S.fsGroup] !== undefined ? K8S.fsGroup : K8S.legacyFsGroup, fsGroupRaw),
    readOnly: readwrite === "ro",
    ttlSeconds: parseTtl(options[OPTION.ttl]),
  };
}

/**
 * No '/' and no '..': an allowed glob such as `{namespace}.*` would otherwise
 * pass `team.x/../admin`, a name that only means something as a path.
 */
const POLICY_NAME = /^[a-z0-9][a-z0-9_.@-]*$/;

/** Comma-separated; spaces ignored; empty entries dropped; lower-cased like Vault does. `root` is never granted. */
export function parsePolicies(raw: string | undefined): string[] {
  if (raw === undefined) throw new InvalidRequestError(`option ${JSON.stringify(OPTION.policies)} is required (comma-separated Vault policy names)`);
  const policies = [...new Set(raw.replaceAll(/\s+/g, "").toLowerCase().split(",").filter((p) => p !== ""))];
  if (policies.length === 0) throw new InvalidRequestError(`option ${JSON.stringify(OPTION.policies)} names no policy`);
  for (const p of policies) {
    if (p === "root") throw new InvalidRequestError(`policy "root" is never granted to a pod; remove it from ${OPTION.policies}`);
    if (!POLICY_NAME.test(p) || p.includes("..") || p.length > 128) {
      throw new InvalidRequestError(`policy name ${JSON.stringify(p.slice(0, 130))} in ${OPTION.policies} is malformed (lower-case letters, digits, '_', '.', '@', '-'; no '/' or '..')`);
    }
  }
  return policies;
}

function parseRoleOption(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!isRoleName(raw)) {
    throw new InvalidRequestError(`option ${JSON.stringify(OPTION.role)}: ${JSON.stringify(raw.slice(0, 130))} is not a valid Vault token role name`);
  }
  return raw;
}

function parseUnwrap(raw: string | undefined): boolean {
  if (raw === undefined || raw === "") return false;
  try {
    return parseGoBool(raw);
  } catch {
    throw new InvalidRequestError(`option ${JSON.stringify(OPTION.unwrap)} must be "true" or "false", got ${JSON.stringify(raw.slice(0, 40))}`);
  }
}

/**
 * Octal mode for the token files. Refuses setuid/setgid/sticky and execute
 * bits, and any write bit for group or other: a pod token must never be
 * writable by another user.
 */
export function parseFileMode(raw: string): number {
  const name = JSON.stringify(OPTION.filePermissions);
  if (!/^0?[0-7]{3,4}$/.test(raw)) throw new InvalidRequestError(`option ${name} must be an octal mode such as "0440", got ${JSON.stringify(raw.slice(0, 40))}`);
  const mode = Number.parseInt(raw, 8);
  if (mode & 0o7000) throw new InvalidRequestError(`option ${name}: ${raw} sets setuid, setgid or sticky bits; use a plain mode such as 0440`);
  if (mode & 0o111) throw new InvalidRequestError(`option ${name}: ${raw} sets execute bits; token files are never executable`);
  if (mode & 0o022) throw new InvalidRequestError(`option ${name}: ${raw} lets group or other write the token; use 0440, 0400 or 0444`);
  if (!(mode & 0o400)) throw new InvalidRequestError(`option ${name}: ${raw} does not let the owner read the token`);
  return mode;
}

const MAX_ID = 2 ** 31 - 1;

function parseId(key: string, raw: string | undefined): number | undefined {
  if (raw === undefined || (raw === "" && key.startsWith("kubernetes.io/"))) return undefined;
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) > MAX_ID) {
    throw new InvalidRequestError(`option ${JSON.stringify(key)} must be a decimal id from 0 to ${MAX_ID}, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return Number(raw);
}

function parseTtl(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDurationSecond(raw);
  } catch (err) {
    throw new InvalidRequestError(`option ${JSON.stringify(OPTION.ttl)}: ${errorMessage(err)} (use e.g. "1h", "30m" or seconds)`);
  }
  if (ms < 1000) throw new InvalidRequestError(`option ${JSON.stringify(OPTION.ttl)} must be at least 1s, got ${JSON.stringify(raw.slice(0, 40))}`);
  return Math.floor(ms / 1000);
}
