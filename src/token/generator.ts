import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { NodeTokenFile } from "../config.ts";
import { DriverError, errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../fsutil/atomic.ts";
import { acquireLock, type Lock } from "../state/lock.ts";
import type { VaultApi } from "../vault/api.ts";
import { isVaultStatus } from "../vault/errors.ts";
import { registerSecret } from "../log/scrub.ts";
import { readFileNoFollow } from "../state/safe-dir.ts";
import { octalMode } from "../fsutil/mode.ts";

/**
 * Reads the node's token (the generator, or the revoke-only token in pod
 * identity mode). One trailing newline (and surrounding
 * space) is dropped; anything non-printable is refused, as Vault's Go client
 * does, because it would be sent as a header. A file others could read or
 * replace is refused (see nodeTokenFileProblem); only doctor, which reports
 * that in its own check, reads one anyway (`judgeFile: false`).
 */
export function readNodeToken(file: NodeTokenFile, opts: { judgeFile?: boolean } = {}): string {
  const { path } = file;
  const { name, bootstrap } = describeNodeToken(file);
  let raw: string;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new DriverError(`cannot read the ${name} ${path} (${code}); create it with "${bootstrap}"`);
  }
  try {
    // Judged on the open file, so the file checked is the file read.
    const unsafe = opts.judgeFile === false ? undefined : nodeTokenFileProblem(file, fstatSync(fd));
    if (unsafe) throw new DriverError(`${unsafe.detail}; refusing to use it (${unsafe.fix})`);
    raw = readFileSync(fd, "utf8");
  } catch (err) {
    if (err instanceof DriverError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new DriverError(`cannot read the ${name} ${path} (${code}); create it with "${bootstrap}"`);
  } finally {
    closeSync(fd);
  }
  const token = raw.trim();
  registerSecret(token);
  if (token === "") throw new DriverError(`the ${name} file ${path} is empty; run "${bootstrap}"`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new DriverError(`the ${name} in ${path} contains non-printable characters`);
  return token;
}

/**
 * Why the node's token file must not be used, or undefined: what is wrong
 * (`detail`) and what to do (`fix`). The one rule the driver enforces and
 * doctor reports. Anyone who can read a generator token can mint tokens for
 * every tenant (a revoke-only token can revoke every pod's); anyone who can
 * write it (its owner, a group with write) can swap in a token of their own.
 * So: a regular file owned by root (the effective uid), no group write,
 * nothing for others. Group read stays allowed (a root group shared with the
 * agent's pod, say).
 */
export function nodeTokenFileProblem(file: NodeTokenFile, st: Pick<Stats, "uid" | "mode" | "isFile">): { detail: string; fix: string } | undefined {
  const { path } = file;
  const { name, bootstrap } = describeNodeToken(file);
  const mode = octalMode(st.mode);
  const euid = process.geteuid?.() ?? 0;
  if (!st.isFile()) return { detail: `the ${name} ${path} is not a regular file`, fix: `replace it: ${bootstrap} --force --path ${path}` };
  if (st.uid !== euid) return { detail: `the ${name} ${path} belongs to uid ${st.uid}, not root: that user can swap the token`, fix: `chown root:root ${path}, then consider it leaked: ${bootstrap} --force` };
  if (st.mode & 0o027) return { detail: `the ${name} ${path} is mode ${mode}, open to ${st.mode & 0o007 ? "every user on the node" : "its group for writing"}`, fix: `chmod 0600 ${path}, then consider it leaked: ${bootstrap} --force` };
  return undefined;
}

/** How messages name a node token file, the command that makes it and the variable that points at it. */
export function describeNodeToken(file: NodeTokenFile): { name: string; bootstrap: string; variable: string } {
  return file.kind === "generator"
    ? { name: "generator token", bootstrap: "vaulttmpfs bootstrap", variable: "VAULTTMPFS_GENERATOR_TOKEN_PATH" }
    : { name: "revoke-only token", bootstrap: "vaulttmpfs bootstrap --revoke-only", variable: "VAULTTMPFS_REVOKE_TOKEN_PATH" };
}

export const RENEWAL_STATE_FILE = "generator-renewal.json";
/** The lock (in the state dir's locks/) under which one process renews the node's token and writes RENEWAL_STATE_FILE. */
export const RENEWAL_LOCK_FILE = "generator-renewal.lock";
const NOT_RENEWABLE_RECHECK_MS = 10 * 60_000;
/** After a failed renewal, mounts wait this long before asking Vault again: an outage must not add a renew-self to every mount. */
export const RETRY_AFTER_FAILURE_MS = 60_000;
/** Mounts wait at most this long for another process's renewal; then they go on without it. */
const RENEWAL_LOCK_WAIT_MS = 15_000;

/** What the last renewal granted, and for which token file (so a replaced token is renewed at once). */
interface RenewalState {
  version: 1;
  renewedAtMs: number;
  ttlSeconds: number;
  renewable: boolean;
  tokenFile: string;
  /** Set when the last attempt failed; the fields above still describe the last success. */
  failedAtMs?: number;
}

function fileIdentity(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

function readState(path: string): RenewalState | undefined {
  try {
    const s = JSON.parse(readFileNoFollow(path)) as RenewalState;
    return s.version === 1 && typeof s.renewedAtMs === "number" ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Fresh while more than half of the granted TTL remains, or within a minute of a failed attempt. */
export function isFresh(state: RenewalState | undefined, identity: string, nowMs: number): boolean {
  if (!state || state.tokenFile !== identity) return false;
  if (state.failedAtMs !== undefined && nowMs >= state.failedAtMs && nowMs < state.failedAtMs + RETRY_AFTER_FAILURE_MS) return true;
  const validForMs = state.renewable ? (state.ttlSeconds * 1000) / 2 : NOT_RENEWABLE_RECHECK_MS;
  return nowMs >= state.renewedAtMs && nowMs < state.renewedAtMs + validForMs;
}

export type RenewOutcome =
  | { kind: "skipped" }
  /** Another process held the renewal lock too long; this call went on without renewing. */
  | { kind: "busy" }
  | { kind: "renewed"; ttlSeconds: number }
  | { kind: "not-renewable" };

/**
 * Renews the node's token (the generator, or the revoke-only token) when less than half of its last granted TTL is
 * left (or the state is missing or unreadable). A burst of mounts that all
 * find the state stale renews once: the lock is held only around the
 * re-check and the renewal itself.
 */
export async function renewNodeTokenIfDue(opts: {
  api: VaultApi;
  token: string;
  tokenPath: string;
  stateDir: string;
  lockPath: string;
  now?: () => number;
  /** Renew now, whatever the state says (renew-token). */
  force?: boolean;
  /** Retry right after a failure: the agent, which has its own interval (mounts wait a minute instead). */
  retryFailedNow?: boolean;
}): Promise<RenewOutcome> {
  const now = opts.now ?? Date.now;
  const statePath = join(opts.stateDir, RENEWAL_STATE_FILE);
  const identity = fileIdentity(opts.tokenPath);
  const fresh = (state: RenewalState | undefined) => {
    if (opts.force || !state) return false;
    const { failedAtMs: _ignored, ...lastSuccess } = state;
    return isFresh(opts.retryFailedNow ? lastSuccess : state, identity, now());
  };
  if (fresh(readState(statePath))) return { kind: "skipped" };

  let lock: Lock;
  try {
    lock = await acquireLock(opts.lockPath, RENEWAL_LOCK_WAIT_MS);
  } catch (err) {
    if (opts.force) throw err;
    return { kind: "busy" };
  }
  try {
    const previous = readState(statePath);
    if (fresh(previous)) return { kind: "skipped" };
    const save = (s: Omit<RenewalState, "version" | "tokenFile">) =>
      writeFileAtomic(statePath, JSON.stringify({ version: 1, tokenFile: identity, ...s }), { mode: 0o600, durable: true });
    try {
      const auth = await opts.api.renewSelf(opts.token);
      save({ renewedAtMs: now(), ttlSeconds: auth.lease_duration, renewable: auth.renewable });
      return { kind: "renewed", ttlSeconds: auth.lease_duration };
    } catch (err) {
      // A root or non-renewable token: nothing to renew, and no point asking on every mount.
      if (isVaultStatus(err, 400) && err.errors.some((e) => e.includes("lease is not renewable"))) {
        save({ renewedAtMs: now(), ttlSeconds: 0, renewable: false });
        return { kind: "not-renewable" };
      }
      const { renewedAtMs = 0, ttlSeconds = 0, renewable = true } = previous?.tokenFile === identity ? previous : {};
      save({ renewedAtMs, ttlSeconds, renewable, failedAtMs: now() });
      throw err;
    }
  } finally {
    lock.release();
  }
}
