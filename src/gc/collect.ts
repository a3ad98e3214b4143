import type { NodeTokenFile } from "../config.ts";
import { errorMessage } from "../errors.ts";
import { entryKeyProblem } from "../state/entry-check.ts";
import { recoverCorruptEntries, recoverTempFiles, removeRenewalTemps, type Leftover } from "./leftovers.ts";
import { parseKeyName, type Journal, type JournalEntry } from "../state/journal.ts";
import { readNodeToken } from "../token/generator.ts";
import { revokePodToken } from "../token/revoke.ts";
import type { VaultApi } from "../vault/api.ts";
import { listStaging, removeStaging } from "../volume/staging.ts";
import { isOurs, type Tmpfs } from "../volume/tmpfs.ts";

export type GcAction = "revoked" | "would-revoke" | "kept" | "busy" | "failed";

export interface GcItem {
  readonly podUid: string;
  readonly volumeName: string;
  readonly namespace: string;
  readonly pod: string;
  readonly dir: string;
  readonly reason: "pending" | "volume gone" | "not mounted" | "mounted" | "kubelet dir not visible";
  readonly action: GcAction;
  readonly error?: string;
}

export interface GcReport {
  readonly items: GcItem[];
  /** Journal files that could not be used and are left in place (nothing to salvage, or their volume may be in use). */
  readonly unreadable: string[];
  /** Temp files of killed journal writes and corrupt entries, and what this run did with each. */
  readonly leftovers: Leftover[];
  /** Entries still waiting for revocation after this run (or that a dry run would act on). */
  readonly pending: number;
  /** Lock files of long-gone volumes removed by this run. */
  readonly prunedLocks: number;
  /** Staging mounts left by killed mounts, removed by this run. */
  readonly cleanedStaging: number;
}

/** A lock file goes once its volume has no journal entry and the file is older than this. */
export const LOCK_RETENTION_MS = 24 * 3600_000;

function whyCollect(entry: JournalEntry, tmpfs: Tmpfs, exists: (p: string) => boolean): GcItem["reason"] {
  if (entry.state === "pending") return "pending";
  // Run where the kubelet's pod dirs are not visible (an agent pod with the wrong
  // hostPath), every volume would look gone: judge nothing rather than revoke live tokens.
  const podsDir = entry.dir.slice(0, entry.dir.lastIndexOf("/pods/") + "/pods".length);
  if (!podsDir.endsWith("/pods") || !exists(podsDir)) return "kubelet dir not visible";
  if (!exists(entry.dir)) return "volume gone";
  return isOurs(tmpfs.mountAt(entry.dir)) ? "mounted" : "not mounted";
}

/**
 * Retries pending revocations and revokes tokens whose volume is gone (the
 * kubelet never called unmount: kubelet down while the pod died, node
 * reboot). Each entry is judged under its volume lock, so a mount or unmount
 * in flight is skipped, never raced; safe to run every minute.
 */
export async function collectGarbage(opts: {
  journal: Journal;
  api: VaultApi;
  tmpfs: Tmpfs;
  nodeToken: NodeTokenFile;
  dryRun: boolean;
  now: () => number;
  exists: (p: string) => boolean;
}): Promise<GcReport> {
  const { journal } = opts;
  const listed = journal.list();
  const items: GcItem[] = [];
  let token: string | undefined;
  for (const listedEntry of listed.entries) {
    const lock = journal.tryLockVolume(listedEntry);
    const base = { podUid: listedEntry.podUid, volumeName: listedEntry.volumeName, namespace: listedEntry.namespace, pod: listedEntry.pod, dir: listedEntry.dir };
    if (!lock) {
      items.push({ ...base, reason: listedEntry.state === "pending" ? "pending" : "mounted", action: "busy" });
      continue;
    }
    try {
      const entry = journal.get(listedEntry); // re-read under the lock: it may be gone or changed
      if (!entry) continue;
      const reason = whyCollect(entry, opts.tmpfs, opts.exists);
      if (reason === "mounted" || reason === "kubelet dir not visible") {
        items.push({ ...base, reason, action: "kept" });
        continue;
      }
      if (opts.dryRun) {
        items.push({ ...base, reason, action: "would-revoke" });
        continue;
      }
      try {
        token ??= readNodeToken(opts.nodeToken);
        await revokePodToken(opts.api, token, entry);
        journal.remove(entry);
        items.push({ ...base, reason, action: "revoked" });
      } catch (err) {
        const lastError = errorMessage(err);
        journal.put({ ...entry, state: "pending", attempts: entry.attempts + 1, lastError, updatedAt: new Date(opts.now()).toISOString() });
        items.push({ ...base, reason, action: "failed", error: lastError });
      }
    } finally {
      lock.release();
    }
  }
  const leftoverDeps = {
    journal,
    dryRun: opts.dryRun,
    revoke: async (target: Parameters<typeof revokePodToken>[2]) => {
      token ??= readNodeToken(opts.nodeToken);
      await revokePodToken(opts.api, token, target);
    },
    mayBeInUse: (key: { podUid: string; volumeName: string }, dir: string | undefined) => {
      const probe = { podUid: key.podUid, volumeName: key.volumeName, dir: dir ?? "", state: "active" } as JournalEntry;
      if (dir === undefined || entryKeyProblem(probe, key)) return true;
      const reason = whyCollect(probe, opts.tmpfs, opts.exists);
      return reason === "mounted" || reason === "kubelet dir not visible";
    },
  };
  const leftovers = [...(await recoverTempFiles(leftoverDeps)), ...(await recoverCorruptEntries(leftoverDeps, listed.unreadable))];
  const settled = new Set(leftovers.filter((l) => l.kind === "corrupt entry" && (l.action === "revoked" || l.action === "removed")).map((l) => l.file));
  const unreadable = listed.unreadable.filter((name) => !settled.has(name));
  const pending =
    items.filter((i) => i.action === "failed" || i.action === "would-revoke" || (i.action === "busy" && i.reason === "pending")).length +
    leftovers.filter((l) => l.action === "failed" || l.action === "would-revoke").length;
  const prunedLocks = opts.dryRun ? 0 : journal.pruneLocks(LOCK_RETENTION_MS, opts.now());
  const cleanedStaging = opts.dryRun ? 0 : await cleanStaleStaging(journal, opts.tmpfs);
  if (!opts.dryRun) removeRenewalTemps(journal);
  return { items, unreadable, leftovers, pending, prunedLocks, cleanedStaging };
}

/** A staging mount outlives its mount command only if that command was killed; take it down once nobody holds the volume. */
async function cleanStaleStaging(journal: Journal, tmpfs: Tmpfs): Promise<number> {
  let cleaned = 0;
  for (const { name, path } of listStaging(journal.stateDir)) {
    const key = parseKeyName(name);
    if (!key) continue;
    const lock = journal.tryLockVolume(key);
    if (!lock) continue;
    try {
      await removeStaging(path, tmpfs);
      cleaned++;
    } catch {
      // left for the next run
    } finally {
      lock.release();
    }
  }
  return cleaned;
}

