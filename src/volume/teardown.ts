import { existsSync, rmdirSync } from "node:fs";
import { MountError } from "../errors.ts";
import { emptyDir } from "./files.ts";
import { mountsBelow, readMountInfo } from "./mountinfo.ts";
import type { Tmpfs } from "./tmpfs.ts";

/**
 * Brings a volume dir to its final state: nothing mounted, nothing in it,
 * gone. Idempotent: a missing dir or an unmounted empty dir is already done.
 * Refuses (and changes nothing) when the dir is a mount of another kind or has
 * mounts below it: the driver only ever removes what it made.
 * Returns what it did, for the log.
 */
export async function teardownVolume(dir: string, tmpfs: Tmpfs): Promise<string> {
  const done: string[] = [];
  // A crash between two mount attempts can stack tmpfs mounts; peel them all.
  for (let i = 0; i < 8; i++) {
    const top = tmpfs.mountAt(dir);
    if (!top) break;
    if (top.fsType !== "tmpfs") throw new MountError(`${dir} is a ${top.fsType} mount, not a tmpfs this driver made; refusing to unmount it`);
    done.push((await tmpfs.unmount(dir)) ? "lazily unmounted" : "unmounted");
  }
  if (!existsSync(dir)) return done.join(", ") || "nothing to do";
  const below = mountsBelow(readMountInfo(), dir);
  if (below.length > 0) throw new MountError(`${dir} has mounts below it (${below[0]?.mountPoint}); refusing to remove it`);
  emptyDir(dir);
  rmdirSync(dir);
  done.push("removed dir");
  return done.join(", ");
}
