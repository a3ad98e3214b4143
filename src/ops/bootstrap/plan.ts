/**
 * The parts of `vaulttmpfs bootstrap` that talk to neither Vault nor a person:
 * its flags, the token-create request, and writing the token file.
 */
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { DriverError, errorMessage } from "../../errors.ts";
import { parseDurationSecond } from "../../env/goparse.ts";
import { writeFileAtomic } from "../../fsutil/atomic.ts";
import { TOKEN_CREATOR } from "../../token/mint.ts";
import type { TokenCreateRequest } from "../../vault/api.ts";
import { isAuthMount } from "../../vault/names.ts";
import { flagValue, UsageError } from "../flags.ts";
import { REVOKE_ONLY_POLICY } from "../doctor/capabilities.ts";

export const DEFAULT_POLICY = "applications_token_creator";
export { REVOKE_ONLY_POLICY } from "../doctor/capabilities.ts";
export const DEFAULT_PERIOD = "24h";
export const DEFAULT_LDAP_MOUNT = "ldap";
/** Root reads it; group read lets a node agent in the root group check it; never other. */
export const TOKEN_FILE_MODE = 0o640;
export const TOKEN_DIR_MODE = 0o750;

export interface BootstrapFlags {
  /** `--policy`, comma-separated; `undefined` = ask (or take {@link DEFAULT_POLICY}). */
  readonly policies: readonly string[] | undefined;
  readonly periodSeconds: number;
  /** `--path`; `undefined` = ask (or take VAULTTMPFS_GENERATOR_TOKEN_PATH). */
  readonly path: string | undefined;
  readonly ldapMount: string;
  readonly username: string | undefined;
  readonly force: boolean;
  /** `--revoke-only`: the node token of pod identity mode (policy {@link REVOKE_ONLY_POLICY}, VAULTTMPFS_REVOKE_TOKEN_PATH). */
  readonly revokeOnly: boolean;
}

/** Reads and validates every flag before anything else happens; a bad value is a UsageError (exit 2). */
export function parseBootstrapFlags(args: readonly string[]): BootstrapFlags {
  const policy = flagValue(args, "--policy");
  const path = flagValue(args, "--path");
  const ldapMount = flagValue(args, "--ldap-mount") ?? DEFAULT_LDAP_MOUNT;
  // The mount goes into the URL path unencoded: no empty, "." or ".." segment may steer it elsewhere.
  if (!isAuthMount(ldapMount)) throw new UsageError(`--ldap-mount: ${JSON.stringify(ldapMount)} is not a Vault auth mount path (e.g. ldap or corp/ldap)`);
  const username = flagValue(args, "--username");
  if (username !== undefined && username.trim() === "") throw new UsageError("--username must not be empty");
  const revokeOnly = args.includes("--revoke-only");
  return {
    policies: policy === undefined ? (revokeOnly ? [REVOKE_ONLY_POLICY] : undefined) : parsePolicies(policy, "--policy"),
    periodSeconds: parsePeriod(flagValue(args, "--period") ?? DEFAULT_PERIOD),
    path: path === undefined ? undefined : parseTokenPath(path, "--path"),
    ldapMount,
    username: username?.trim(),
    force: args.includes("--force"),
    revokeOnly,
  };
}

/** Comma-separated policy names. `root` is refused: a root generator would let any pod escalate. */
export function parsePolicies(raw: string, source: string): string[] {
  const names = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (names.length === 0) throw new UsageError(`${source}: give at least one policy name`);
  for (const name of names) {
    if (!/^[\w.@-]+$/.test(name)) throw new UsageError(`${source}: ${JSON.stringify(name)} is not a policy name`);
    if (name.toLowerCase() === "root") throw new UsageError(`${source}: a generator token must never be root; use ${DEFAULT_POLICY}`);
  }
  return names;
}

export function parsePeriod(raw: string): number {
  let ms: number;
  try {
    ms = parseDurationSecond(raw);
  } catch (err) {
    throw new UsageError(`--period: ${errorMessage(err)}`);
  }
  if (ms < 1000) throw new UsageError(`--period: must be at least 1s, got ${JSON.stringify(raw)} (a generator token must be periodic)`);
  return Math.floor(ms / 1000);
}

/** The token file path must be absolute, like VAULTTMPFS_GENERATOR_TOKEN_PATH that the driver reads. */
export function parseTokenPath(raw: string, source: string): string {
  const path = raw.trim();
  if (!isAbsolute(path) || path.endsWith("/")) throw new UsageError(`${source}: ${JSON.stringify(raw)} must be an absolute file path, e.g. /etc/kubernetes/vaulttoken`);
  return path;
}

/**
 * The create-orphan request for a node's generator token: orphan (so it
 * outlives whoever ran bootstrap), periodic and renewable (the driver renews
 * it), labelled with the node and the person who made it.
 */
export function generatorTokenRequest(opts: { policies: readonly string[]; periodSeconds: number; node: string; creator: string | undefined; revokeOnly?: boolean }): TokenCreateRequest {
  return {
    policies: opts.policies,
    // A revoke-only token must be provable from its policies' texts; `default` is
    // every token's, and an administrator may have widened it, so it is left out.
    ...(opts.revokeOnly ? { no_default_policy: true } : {}),
    period: `${opts.periodSeconds}s`,
    renewable: true,
    display_name: `vaulttmpfs-${opts.node}`,
    meta: { applications: TOKEN_CREATOR, node: opts.node, ...(opts.creator === undefined ? {} : { creator: opts.creator }) },
  };
}

/** The token file is there and `--force` was not given; or it is not a file at all. */
export class TargetExistsError extends DriverError {
  override name = "TargetExistsError";
}

function kindAt(path: string): "none" | "file" | "other" {
  try {
    const st = lstatSync(path);
    return st.isFile() || st.isSymbolicLink() ? "file" : "other";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "none";
    throw new DriverError(`cannot check ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

/** Throws unless `path` may be (over)written. Called before any Vault call, so a refusal mints nothing. */
export function checkTarget(path: string, force: boolean): "new" | "replace" {
  const kind = kindAt(path);
  if (kind === "other") throw new TargetExistsError(`${path} exists and is not a file; choose another --path`);
  if (kind === "file" && !force) {
    throw new TargetExistsError(`${path} already exists; pass --force to replace it (the token in it stays valid until it expires or is revoked)`);
  }
  return kind === "file" ? "replace" : "new";
}

/** Creates the missing directories above a file, each with `mode` exactly (the umask would narrow it). */
export function ensureParentDirs(file: string, mode: number): string[] {
  const missing: string[] = [];
  for (let d = dirname(file); kindAt(d) === "none"; d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d, { mode });
    chmodSync(d, mode);
  }
  return missing;
}

/**
 * Writes the token (plus a newline) atomically and durably with mode 0640.
 * Re-checks the target first, so a file that appeared since {@link checkTarget} is not clobbered.
 */
export function writeTokenFile(path: string, token: string, force: boolean): void {
  checkTarget(path, force);
  try {
    ensureParentDirs(path, TOKEN_DIR_MODE);
    writeFileAtomic(path, `${token}\n`, { mode: TOKEN_FILE_MODE, durable: true });
  } catch (err) {
    throw new DriverError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}
