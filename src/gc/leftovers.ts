/**
 * What a killed driver leaves in the journal dir besides entries: temp files
 * of an interrupted atomic write (`volumes/.tmp-<key>.json.<hex>`), and
 * entries that do not parse. Both may hold the only copy of an accessor whose
 * token nobody would ever revoke, so gc reads them too.
 */
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../errors.ts";
import { TEMP_PREFIX } from "../fsutil/atomic.ts";
import { keyName, parseKeyName, type Journal, type VolumeKey } from "../state/journal.ts";
import { readFileNoFollow } from "../state/safe-dir.ts";
import type { Revocable } from "../token/revoke.ts";
import { RENEWAL_LOCK_FILE, RENEWAL_STATE_FILE } from "../token/generator.ts";

/** `.tmp-<podUid>_<volume>.json.<12 hex>`: the name writeFileAtomic gives a journal write. */
const TEMP_NAME = /^\.tmp-(.+)\.json\.[0-9a-f]{12}$/;

/** The accessors a (possibly cut or corrupt) journal text names; undefined when it names none. */
export function salvageAccessors(text: string): Revocable | undefined {
  const field = (name: string) => new RegExp(`"${name}"\\s*:\\s*"([A-Za-z0-9._-]{1,200})"`).exec(text)?.[1];
  const accessor = field("accessor");
  return accessor ? { accessor } : undefined;
}

/** The `dir` a corrupt entry names, if it can be read at all. */
export const salvageDir = (text: string): string | undefined => /"dir"\s*:\s*"([^"\\]{1,4096})"/.exec(text)?.[1];

export interface Leftover {
  readonly file: string;
  readonly key: VolumeKey;
  readonly kind: "crashed write" | "corrupt entry";
  readonly action: "revoked" | "removed" | "would-revoke" | "kept" | "busy" | "failed" | "unrecoverable";
  readonly error?: string;
}

export interface LeftoverDeps {
  readonly journal: Journal;
  readonly dryRun: boolean;
  readonly revoke: (target: Revocable) => Promise<void>;
  /** True unless the volume surely does not hold the token (`dir` unknown or not its path, our mount there, kubelet dir not visible). */
  readonly mayBeInUse: (key: VolumeKey, dir: string | undefined) => boolean;
}

/**
 * Temp files of journal writes that never reached their rename. The write is
 * done under the volume lock, so a temp file whose lock is free belongs to a
 * dead process. Its accessor is revoked unless the volume's entry names the
 * same token (then the entry covers it: a later, cut-off update), and the file
 * goes once that is settled.
 */
export async function recoverTempFiles(deps: LeftoverDeps): Promise<Leftover[]> {
  const named = listNames(join(deps.journal.stateDir, "volumes")).map((name) => ({ name, key: parseKeyName(TEMP_NAME.exec(name)?.[1] ?? "") }));
  return eachUnderLock(deps, "crashed write", named, async (file, key) => {
    const salvaged = salvageAccessors(readOrEmpty(file));
    let covered = false;
    try {
      covered = salvaged !== undefined && deps.journal.get(key)?.accessor === salvaged.accessor;
    } catch {
      // the entry itself is unreadable: it is handled as a corrupt entry; this token still needs revoking
    }
    // No volume can hold this token: its mount died before the rename, so it never built one.
    return settle(deps, file, key, "crashed write", covered ? undefined : salvaged, () => false);
  });
}

/**
 * Entries that do not parse (a disk error, a hand edit): revoked from what can
 * be salvaged when their volume is not mounted, then removed so the volume is
 * no longer blocked; reported when nothing can be salvaged.
 */
export async function recoverCorruptEntries(deps: LeftoverDeps, unreadable: readonly string[]): Promise<Leftover[]> {
  const named = unreadable.map((name) => ({ name, key: parseKeyName(name.replace(/\.json$/, "")) }));
  return eachUnderLock(deps, "corrupt entry", named, async (file, key) => {
    const text = readOrEmpty(file);
    if (parsesAsObject(text)) return undefined; // well-formed but not matching its key: never acted on (see entry-check.ts)
    const salvaged = salvageAccessors(text);
    if (!salvaged) return { key, kind: "corrupt entry", action: "unrecoverable", error: "no accessor can be read from it" };
    const dir = salvageDir(text);
    return settle(deps, file, key, "corrupt entry", salvaged, () => deps.mayBeInUse(key, dir));
  });
}

/** Runs `act` on each file under its volume's lock; a lock held elsewhere means a live writer: "busy". */
async function eachUnderLock(
  deps: LeftoverDeps,
  kind: Leftover["kind"],
  named: readonly { name: string; key: VolumeKey | undefined }[],
  act: (file: string, key: VolumeKey) => Promise<Omit<Leftover, "file"> | undefined>,
): Promise<Leftover[]> {
  const volumesDir = join(deps.journal.stateDir, "volumes");
  const out: Leftover[] = [];
  for (const { name, key } of named) {
    if (!key) continue;
    const lock = deps.journal.tryLockVolume(key);
    if (!lock) {
      out.push({ file: name, key, kind, action: "busy" });
      continue;
    }
    try {
      const result = await act(join(volumesDir, name), key);
      if (result) out.push({ ...result, file: name });
    } finally {
      lock.release();
    }
  }
  return out;
}

async function settle(deps: LeftoverDeps, file: string, key: VolumeKey, kind: Leftover["kind"], target: Revocable | undefined, inUse: () => boolean): Promise<Omit<Leftover, "file">> {
  if (target && inUse()) return { key, kind, action: "kept" };
  if (deps.dryRun) return { key, kind, action: target ? "would-revoke" : "removed" };
  if (target) {
    try {
      await deps.revoke(target);
    } catch (err) {
      return { key, kind, action: "failed", error: errorMessage(err) };
    }
  }
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return { key, kind, action: "failed", error: `revoked, but cannot remove ${keyName(key)}: ${errorMessage(err)}` };
  }
  return { key, kind, action: target ? "revoked" : "removed" };
}

function listNames(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileNoFollow(file);
  } catch {
    return "";
  }
}

function parsesAsObject(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && typeof (v as { accessor?: unknown }).accessor === "string";
  } catch {
    return false;
  }
}

/**
 * Temp files of the generator's renewal state (`.tmp-generator-renewal.json.*`),
 * left by a process killed mid-write. They hold no secret, but they pile up;
 * removed only while nobody holds the renewal lock, so no write is in flight.
 */
export function removeRenewalTemps(journal: Journal): number {
  const lock = journal.tryLock(RENEWAL_LOCK_FILE);
  if (!lock) return 0;
  let removed = 0;
  try {
    for (const name of listNames(journal.stateDir)) {
      if (!name.startsWith(`${TEMP_PREFIX}${RENEWAL_STATE_FILE}.`)) continue;
      try {
        unlinkSync(join(journal.stateDir, name));
        removed++;
      } catch {
        // gone already
      }
    }
  } finally {
    lock.release();
  }
  return removed;
}
