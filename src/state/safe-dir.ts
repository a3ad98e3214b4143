/**
 * The state dir holds what decides which tokens get revoked and where the
 * staging tmpfs (a token inside) lives, and the driver acts on it as root.
 * So it is trusted only when nobody but root could have put anything there:
 * root-owned (the effective uid), no group/other write, no symlink in place
 * of any of its dirs or files, and no parent that another user could swap.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { StateError } from "../errors.ts";
import { octalMode } from "../fsutil/mode.ts";

/** The dirs the driver makes inside the state dir; each must pass the same checks as the state dir. */
export const STATE_SUBDIRS = ["volumes", "locks", "staging"] as const;

const euid = () => process.geteuid?.() ?? 0;

/** Why `path` (which must exist) is not a dir only root can change; undefined when it is fine. */
export function unsafeDirReason(path: string): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    return `cannot lstat ${path} (${(err as NodeJS.ErrnoException).code ?? err})`;
  }
  if (st.isSymbolicLink()) return `${path} is a symlink; it must be a real directory (remove the link, let the driver create the dir)`;
  if (!st.isDirectory()) return `${path} is not a directory`;
  if (st.uid !== euid()) return `${path} belongs to uid ${st.uid}, not to root (uid ${euid()}): that user could plant journal entries or staging links (chown -R root:root ${path} after checking what is inside)`;
  if (st.mode & 0o022) return `${path} is mode ${octalMode(st.mode)}, writable by group or others (chmod go-w ${path})`;
  return undefined;
}

/** Why a parent of the state dir lets another user replace it (writable by group/other without the sticky bit). */
export function unsafeParentReason(stateDir: string): string | undefined {
  for (let dir = dirname(stateDir); ; dir = dirname(dir)) {
    try {
      const st = statSync(dir);
      if (st.mode & 0o022 && !(st.mode & 0o1000)) return `${dir}, a parent of the state dir ${stateDir}, is mode ${octalMode(st.mode)}: another user could rename the state dir and put their own in its place (chmod go-w ${dir}, or choose another VAULTTMPFS_STATE_DIR)`;
    } catch {
      // a parent we cannot stat is not one another user made writable
    }
    if (dir === "/" || dir === ".") return undefined;
  }
}

/** Every reason the state dir tree (the dirs that exist of it) cannot be trusted; empty when it can. */
export function stateTreeProblems(stateDir: string): string[] {
  const problems: string[] = [];
  const parent = unsafeParentReason(stateDir);
  if (parent) problems.push(parent);
  for (const dir of [stateDir, ...STATE_SUBDIRS.map((d) => join(stateDir, d))]) {
    if (dir !== stateDir && !existsNoFollow(dir)) continue;
    const reason = unsafeDirReason(dir);
    if (reason) problems.push(reason);
  }
  return problems;
}

/** Throws a StateError naming the first problem of the state dir tree. */
export function requireSafeStateTree(stateDir: string): void {
  const [first] = stateTreeProblems(stateDir);
  if (first) throw new StateError(`refusing to use the state dir: ${first}`);
}

/** Throws unless `dir` (inside the state dir) is a root-owned real dir without group/other write. */
export function requireSafeDir(dir: string): void {
  const reason = unsafeDirReason(dir);
  if (reason) throw new StateError(`refusing to use the state dir: ${reason}`);
}

export function existsNoFollow(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a regular file without following a symlink at `path` (ELOOP then); refuses anything but a regular file. */
export function readFileNoFollow(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: "EINVAL" });
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
