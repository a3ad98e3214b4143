import { lstatSync } from "node:fs";
import { dirname } from "node:path";
import { MountError } from "../errors.ts";

/**
 * True when `dir` is a real directory, false when nothing is there. A
 * symlink (or any other file) throws: the driver runs as root, and following
 * a link would empty, mount over or remove whatever it points at. Checked by
 * `lstat`, at every step that touches the dir.
 */
export function requireRealDir(dir: string, what = "volume dir"): boolean {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new MountError(`cannot lstat the ${what} ${dir} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  if (st.isSymbolicLink()) throw new MountError(`the ${what} ${dir} is a symlink, not a directory; refusing to follow it (remove the link)`);
  if (!st.isDirectory()) throw new MountError(`the ${what} ${dir} is not a directory; refusing to touch it`);
  return true;
}

/**
 * `requireRealDir` for a pod volume dir and every dir between it and the
 * kubelet's `pods` dir (`<uid>`, `volumes`, `<vendor~driver>`): a link at
 * any of them redirects the volume just as well. The kubelet root itself may
 * be a link (a relocated /var/lib/kubelet), so the walk stops below it.
 */
export function requireRealVolumePath(dir: string, kubeletRoot: string): boolean {
  const podsDir = `${kubeletRoot}/pods`;
  const chain: string[] = [];
  for (let d = dir; d.startsWith(`${podsDir}/`); d = dirname(d)) chain.unshift(d);
  let exists = true;
  for (const d of chain) {
    if (!exists) break;
    exists = requireRealDir(d, d === dir ? "volume dir" : "parent of the volume dir");
  }
  return exists;
}
