import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  readonly mode: number;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /**
   * fsync the file before the rename and the directory after it, so the new
   * file survives a crash of the node. Needed on disk for what must outlive
   * a crash (the journal); pointless on tmpfs, which dies with the node:
   * readers see the old or the whole new file either way, by the rename.
   */
  readonly durable?: boolean;
}

/** Temp files start with a dot so kubelet's plugin watcher and our own scans ignore them. */
export const TEMP_PREFIX = ".tmp-";

/** A random temp-name suffix; Web Crypto, so the kubelet path does not load node:crypto for it. */
function randomSuffix(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex");
}

/**
 * Writes `data` to `path` so a reader sees the old file or the whole new one,
 * never a part: a temp file in the same directory (created with `mode`, owner
 * set before any byte is written), fsync when durable, rename. The temp file
 * is removed if anything fails.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions): void {
  const temp = join(dirname(path), `${TEMP_PREFIX}${basename(path)}.${randomSuffix()}`);
  const fd = openSync(temp, "wx", options.mode);
  try {
    // The umask may have narrowed the mode at open; set it exactly.
    fchmodSync(fd, options.mode);
    if (options.uid !== undefined || options.gid !== undefined) fchownSync(fd, options.uid ?? -1, options.gid ?? -1);
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    if (options.durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkSync(temp);
    throw err;
  }
  if (options.durable) fsyncDir(dirname(path));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
