import { existsSync, mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { keyName } from "../state/journal.ts";
import { acquireLock } from "../state/lock.ts";
import { requireSafeDir } from "../state/safe-dir.ts";
import { requireRealDir } from "./real-dir.ts";
import { isOurs, type Tmpfs } from "./tmpfs.ts";

/**
 * A volume is built on a private staging mount in the state dir and then
 * moved onto the pod's dir in one step. The kubelet treats any mount
 * point as a finished volume and never calls the driver for it again, so the
 * pod's dir must never be a mount point holding a half-written volume, not
 * even for the instant between a mount and a write, and not after a crash.
 */
export function stagingDir(stateDir: string, key: { podUid: string; volumeName: string }): string {
  return join(stagingRoot(stateDir), keyName(key));
}

const stagingRoot = (stateDir: string) => join(stateDir, "staging");

/**
 * Makes `<stateDir>/staging` a private mount point, once per boot, so a
 * staging tmpfs (a token inside) never propagates into other mount
 * namespaces that share `/` (containers with an rshared hostPath, say), and
 * so the kernel lets a staging tmpfs be moved (it refuses to move a mount out
 * of a shared parent). The move onto the pod's dir still propagates like any
 * volume mount.
 */
export async function ensurePrivateStagingRoot(stateDir: string, tmpfs: Tmpfs, lockPath: string): Promise<void> {
  const root = stagingRoot(stateDir);
  const isPrivate = () => {
    const m = tmpfs.mountAt(root);
    return m !== undefined && !m.propagation.some((t) => t.startsWith("shared:"));
  };
  if (isPrivate()) return;
  const lock = await acquireLock(lockPath, 30_000);
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    requireSafeDir(root);
    if (!isPrivate()) await tmpfs.makePrivateMountPoint(root);
  } finally {
    lock.release();
  }
}

/** A fresh, empty staging dir (0700). Any leftover of a crashed attempt is removed first. */
export async function prepareStaging(dir: string, tmpfs: Tmpfs): Promise<void> {
  await removeStaging(dir, tmpfs);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** After the move: the pod's dir holds the tmpfs now and the staging dir is an empty dir, which goes. */
export async function finishStaging(dir: string): Promise<void> {
  rmdirSync(dir);
}

/** Unmounts our mounts at the staging dir and removes it; idempotent. */
export async function removeStaging(dir: string, tmpfs: Tmpfs): Promise<void> {
  if (!requireRealDir(dir, "staging dir")) return; // the usual case: nothing left, no need to read the mount table
  for (let top = tmpfs.mountAt(dir), i = 0; isOurs(top) && i < 8; top = tmpfs.mountAt(dir), i++) await tmpfs.unmount(dir);
  if (existsSync(dir) && !tmpfs.mountAt(dir)) rmdirSync(dir);
}

/** Staging dirs in the state dir, by `<podUid>_<volume>` key; for gc. */
export function listStaging(stateDir: string): { name: string; path: string }[] {
  try {
    return readdirSync(stagingRoot(stateDir)).map((name) => ({ name, path: join(stagingRoot(stateDir), name) }));
  } catch {
    return [];
  }
}
