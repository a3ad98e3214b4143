import { existsSync, mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { isOurs, type Tmpfs } from "./tmpfs.ts";

/**
 * A volume is built on a private staging mount in the state dir and then
 * bind-mounted onto the pod's dir in one step. The kubelet treats any mount
 * point as a finished volume and never calls the driver for it again, so the
 * pod's dir must never be a mount point holding a half-written volume, not
 * even for the instant between a mount and a write, and not after a crash.
 */
export function stagingDir(stateDir: string, key: { podUid: string; volumeName: string }): string {
  return join(stateDir, "staging", `${key.podUid}_${key.volumeName}`);
}

/** A fresh, empty staging dir (0700). Any leftover of a crashed attempt is removed first. */
export async function prepareStaging(dir: string, tmpfs: Tmpfs): Promise<void> {
  await removeStaging(dir, tmpfs);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Unmounts our mounts at the staging dir and removes it; idempotent. */
export async function removeStaging(dir: string, tmpfs: Tmpfs): Promise<void> {
  for (let top = tmpfs.mountAt(dir), i = 0; isOurs(top) && i < 8; top = tmpfs.mountAt(dir), i++) await tmpfs.unmount(dir);
  if (existsSync(dir) && !tmpfs.mountAt(dir)) rmdirSync(dir);
}

/** Staging dirs in the state dir, by `<podUid>_<volume>` key; for gc. */
export function listStaging(stateDir: string): { name: string; path: string }[] {
  try {
    return readdirSync(join(stateDir, "staging")).map((name) => ({ name, path: join(stateDir, "staging", name) }));
  } catch {
    return [];
  }
}
