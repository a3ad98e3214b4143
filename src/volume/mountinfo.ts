import { readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  /** Per-mount options (rw/ro, nodev, ...). */
  readonly mountOptions: readonly string[];
  /** Superblock options (size, mode, uid, gid for tmpfs). */
  readonly superOptions: readonly string[];
  /** Propagation tags (`shared:N`, `master:N`, `unbindable`); empty for a private mount. */
  readonly propagation: readonly string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescape(field: string): string {
  return field.replaceAll(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** The reverse of `unescape`: how a path appears in mountinfo. */
function escape(path: string): string {
  return path.replaceAll(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

/**
 * Parses `/proc/self/mountinfo` text (proc(5)); malformed lines are skipped.
 * With `mentioning`, only lines containing that path are parsed: a busy node
 * has thousands of mounts, and a mount call looks the table up several times.
 */
export function parseMountInfo(text: string, mentioning?: string): MountEntry[] {
  const entries: MountEntry[] = [];
  const needle = mentioning === undefined ? undefined : ` ${escape(mentioning)}`;
  for (const line of text.split("\n")) {
    if (needle !== undefined && !line.includes(needle)) continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-", 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    entries.push({
      mountPoint: unescape(fields[4] ?? ""),
      mountOptions: (fields[5] ?? "").split(","),
      fsType: fields[sep + 1] ?? "",
      source: unescape(fields[sep + 2] ?? ""),
      superOptions: (fields[sep + 3] ?? "").split(","),
      propagation: fields.slice(6, sep),
    });
  }
  return entries;
}

/** The mount table, or (with `mentioning`) the part of it that can concern that path. */
export function readMountInfo(mentioning?: string, path = "/proc/self/mountinfo"): MountEntry[] {
  return parseMountInfo(readFileSync(path, "utf8"), mentioning);
}

/**
 * The path mountinfo would show for `dir`: symlinks resolved (a symlinked
 * /var/lib/kubelet is common), even when `dir` itself does not exist yet.
 */
export function canonicalPath(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    const parent = dirname(dir);
    return parent === dir ? dir : join(canonicalPath(parent), basename(dir));
  }
}

/** The mount visible at `dir` (the last one stacked wins), or undefined. */
export function mountAt(entries: readonly MountEntry[], dir: string): MountEntry | undefined {
  const path = canonicalPath(dir);
  return entries.findLast((e) => e.mountPoint === path);
}

/** Mounts strictly below `dir`: removing `dir` recursively would cross into them. */
export function mountsBelow(entries: readonly MountEntry[], dir: string): MountEntry[] {
  const path = canonicalPath(dir);
  const prefix = path.endsWith("/") ? path : `${path}/`;
  return entries.filter((e) => e.mountPoint.startsWith(prefix));
}
