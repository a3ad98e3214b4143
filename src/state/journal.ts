import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { StateError, errorMessage } from "../errors.ts";
import { TEMP_PREFIX, writeFileAtomic } from "../fsutil/atomic.ts";
import { acquireLock, tryLock, type Lock } from "./lock.ts";
import { entryKeyProblem } from "./entry-check.ts";
import { existsNoFollow, readFileNoFollow, requireSafeStateTree } from "./safe-dir.ts";

export const JOURNAL_VERSION = 1;

/**
 * What the driver must remember to revoke a pod's token once the pod is gone.
 * Never the token itself: only accessors, which can revoke but not act.
 */
export interface JournalEntry {
  readonly version: number;
  readonly podUid: string;
  readonly volumeName: string;
  readonly dir: string;
  readonly namespace: string;
  readonly pod: string;
  readonly serviceAccount: string;
  readonly role: string;
  readonly policies: readonly string[];
  /** Accessor of the pod's token (`wrap_info.wrapped_accessor`, or `auth.accessor` when unwrapped). */
  readonly accessor: string;
  /** Accessor of the single-use wrapping token, for the audit trail only: never revoked, it wraps a token that is revoked with its pod. */
  readonly wrappingAccessor: string | undefined;
  readonly createdAt: string;
  readonly ttlSeconds: number;
  /** `active` while the volume is (being) mounted; `pending` once teardown started and revocation has not succeeded. */
  readonly state: "active" | "pending";
  readonly attempts: number;
  readonly lastError: string | undefined;
  readonly updatedAt: string;
}

export interface VolumeKey {
  readonly podUid: string;
  readonly volumeName: string;
}

/** `<podUid>_<volume>`: unambiguous, pod UIDs have no `_`. Names journal entries, locks and staging dirs. */
export const keyName = (k: VolumeKey) => `${k.podUid}_${k.volumeName}`;

/** The reverse of `keyName`; undefined for anything else. */
export function parseKeyName(name: string): VolumeKey | undefined {
  const m = /^([^_]+)_(.+)$/.exec(name);
  return m?.[1] && m[2] ? { podUid: m[1], volumeName: m[2] } : undefined;
}

/**
 * One file per volume under `<stateDir>/volumes`, written atomically (temp,
 * fsync, rename, fsync dir) with mode 0600, so concurrent mounts of different
 * pods never touch the same file. Per-volume flock()s under `<stateDir>/locks`
 * serialise the driver and `gc` on one volume.
 */
export function openJournal(stateDir: string) {
  const volumesDir = join(stateDir, "volumes");
  const locksDir = join(stateDir, "locks");
  let prepared = false;

  function prepare(): void {
    if (prepared) return;
    try {
      for (const d of [stateDir, volumesDir, locksDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StateError(`cannot create state directory ${stateDir}: ${errorMessage(err)}`);
    }
    requireSafeStateTree(stateDir);
    prepared = true;
  }
  const pathOf = (k: VolumeKey) => join(volumesDir, `${keyName(k)}.json`);

  return {
    stateDir,

    /** Serialises every operation on one volume; held across the whole mount or unmount. */
    lockVolume(key: VolumeKey, timeoutMs = 60_000): Promise<Lock> {
      prepare();
      return acquireLock(join(locksDir, `${keyName(key)}.lock`), timeoutMs);
    },

    /** `undefined` when another process works on that volume right now. */
    tryLockVolume(key: VolumeKey): Lock | undefined {
      prepare();
      return tryLock(join(locksDir, `${keyName(key)}.lock`));
    },

    /** A named node-wide lock (the renewal lock, say) without waiting; undefined when held. */
    tryLock(name: string): Lock | undefined {
      prepare();
      return tryLock(join(locksDir, name));
    },

    lockPath(name: string): string {
      prepare();
      return join(locksDir, name);
    },

    /** It is not an error when the entry does not exist: that returns undefined. */
    get(key: VolumeKey): JournalEntry | undefined {
      let entry: JournalEntry;
      try {
        entry = parseEntry(readFileNoFollow(pathOf(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new StateError(`cannot read journal entry for ${keyName(key)}: ${errorMessage(err)}; run "vaulttmpfs gc" to recover or report it`);
      }
      const problem = entryKeyProblem(entry, key);
      if (problem) throw new StateError(`journal entry for ${keyName(key)} ${problem}; not acting on it (see "vaulttmpfs doctor")`);
      return entry;
    },

    put(entry: JournalEntry): void {
      prepare();
      try {
        writeFileAtomic(pathOf(entry), `${JSON.stringify(entry)}\n`, { mode: 0o600, durable: true });
      } catch (err) {
        throw new StateError(`cannot write journal entry for ${keyName(entry)}: ${errorMessage(err)}`);
      }
    },

    /**
     * Removing an entry that does not exist succeeds. Not fsynced: an entry is
     * removed only once its token is revoked, so a removal lost in a crash
     * only makes gc revoke a revoked accessor again, which Vault answers as done.
     */
    remove(key: VolumeKey): void {
      try {
        unlinkSync(pathOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new StateError(`cannot remove journal entry for ${keyName(key)}: ${errorMessage(err)}`);
      }
    },

    /**
     * Removes per-volume lock files left by volumes long gone (no entry, untouched
     * for `olderThanMs`), so a node's state dir does not grow with every pod it
     * ever ran. A lock someone holds is never removed. Returns how many went.
     */
    pruneLocks(olderThanMs: number, nowMs: number): number {
      let names: string[];
      try {
        names = readdirSync(locksDir);
      } catch {
        return 0;
      }
      let pruned = 0;
      for (const name of names) {
        const key = name.endsWith(".lock") ? parseKeyName(name.slice(0, -".lock".length)) : undefined;
        if (!key || existsSync(pathOf(key))) continue;
        const path = join(locksDir, name);
        try {
          if (nowMs - statSync(path).mtimeMs < olderThanMs) continue;
          const lock = tryLock(path);
          if (!lock) continue;
          unlinkSync(path);
          lock.release();
          pruned++;
        } catch {
          // raced with another pruner or a new mount: leave it for the next run
        }
      }
      return pruned;
    },

    /** Every readable entry; unreadable files are reported, not fatal, so one bad file cannot stop `gc`. */
    list(): { entries: JournalEntry[]; unreadable: string[] } {
      if (existsNoFollow(stateDir)) requireSafeStateTree(stateDir);
      let names: string[];
      try {
        names = readdirSync(volumesDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return { entries: [], unreadable: [] };
        throw new StateError(`cannot list ${volumesDir}: ${errorMessage(err)}`);
      }
      const entries: JournalEntry[] = [];
      const unreadable: string[] = [];
      for (const name of names.sort()) {
        if (!name.endsWith(".json") || name.startsWith(TEMP_PREFIX)) continue;
        try {
          const entry = parseEntry(readFileNoFollow(join(volumesDir, name)));
          const key = parseKeyName(name.slice(0, -".json".length));
          if (!key || entryKeyProblem(entry, key)) throw new Error("entry does not match its file name");
          entries.push(entry);
        } catch {
          unreadable.push(name);
        }
      }
      return { entries, unreadable };
    },
  };
}

export type Journal = ReturnType<typeof openJournal>;

/** Reads this version and every older one; refuses a newer format rather than guess. */
export function parseEntry(text: string): JournalEntry {
  const raw = JSON.parse(text) as Partial<JournalEntry> & Record<string, unknown>;
  if (typeof raw.version !== "number" || raw.version > JOURNAL_VERSION) throw new Error(`unsupported journal version ${String(raw.version)}`);
  if (typeof raw.podUid !== "string" || typeof raw.volumeName !== "string" || typeof raw.accessor !== "string") {
    throw new Error("journal entry lacks podUid, volumeName or accessor");
  }
  return {
    version: raw.version,
    podUid: raw.podUid,
    volumeName: raw.volumeName,
    dir: String(raw.dir ?? ""),
    namespace: String(raw.namespace ?? ""),
    pod: String(raw.pod ?? ""),
    serviceAccount: String(raw.serviceAccount ?? ""),
    role: String(raw.role ?? ""),
    policies: Array.isArray(raw.policies) ? raw.policies.map(String) : [],
    accessor: raw.accessor,
    wrappingAccessor: typeof raw.wrappingAccessor === "string" ? raw.wrappingAccessor : undefined,
    createdAt: String(raw.createdAt ?? ""),
    ttlSeconds: Number(raw.ttlSeconds ?? 0),
    state: raw.state === "pending" ? "pending" : "active",
    attempts: Number(raw.attempts ?? 0),
    lastError: typeof raw.lastError === "string" ? raw.lastError : undefined,
    updatedAt: String(raw.updatedAt ?? ""),
  };
}
