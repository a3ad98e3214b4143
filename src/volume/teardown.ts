import { existsSync, rmdirSync } from "node:fs";
import { MountError } from "../errors.ts";
import { emptyDir } from "./files.ts";
import type { PodVolumePath } from "../flex/podpath.ts";
import { requireRealVolumePath } from "./real-dir.ts";
import { isOurs, type Tmpfs } from "./tmpfs.ts";

/**
 * Brings a volume dir to its final state: nothing mounted, nothing in it,
 * gone. Idempotent: a missing dir or an unmounted empty dir is already done.
 * Refuses, before changing anything, when the dir is a mount this driver did
 * not make (another filesystem, or a tmpfs with another source) or has mounts
 * below it: the driver only ever removes what it made.
 * Returns what it did, for the log.
 */
export async function teardownVolume(volume: Pick<PodVolumePath, "dir" | "kubeletRoot">, tmpfs: Tmpfs): Promise<string> {
  const { dir, kubeletRoot } = volume;
  // A link in place of the dir (or of a parent) would make umount and the emptying below act on its target.
  requireRealVolumePath(dir, kubeletRoot);
  const below = tmpfs.mountsBelow(dir);
  if (below.length > 0) throw new MountError(`${dir} has mounts below it (${below[0]?.mountPoint}); refusing to unmount or remove it`);
  const done: string[] = [];
  // A crash between two mount attempts can stack our mounts; peel them all.
  for (let top = tmpfs.mountAt(dir), i = 0; top && i < 8; top = tmpfs.mountAt(dir), i++) {
    if (!isOurs(top)) throw new MountError(`${dir} is a ${top.fsType} mount (source ${JSON.stringify(top.source)}) that this driver did not make; refusing to unmount it`);
    done.push((await tmpfs.unmount(dir)) ? "lazily unmounted" : "unmounted");
  }
  if (!existsSync(dir)) return done.join(", ") || "nothing to do";
  requireRealVolumePath(dir, kubeletRoot);
  emptyDir(dir);
  rmdirSync(dir);
  done.push("removed dir");
  return done.join(", ");
}
