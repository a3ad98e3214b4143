import { existsSync, lstatSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { MountError, errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../fsutil/atomic.ts";
import type { Ownership } from "./plan.ts";
import { requireRealDir } from "./real-dir.ts";

/** The two files every volume holds: `<name>` (the token) and `<name>.json` (Vault's response). */
export function volumeFiles(dir: string, fileName: string): { token: string; json: string } {
  return { token: join(dir, fileName), json: join(dir, `${fileName}.json`) };
}

/** Writes the JSON first and the token last: a present token file means a complete volume. */
export function writeVolumeFiles(dir: string, fileName: string, token: string, json: unknown, owner: Ownership): void {
  const files = volumeFiles(dir, fileName);
  const opts = { mode: owner.fileMode, uid: owner.uid, gid: owner.gid };
  try {
    writeFileAtomic(files.json, `${JSON.stringify(json, null, 2)}\n`, opts);
    writeFileAtomic(files.token, token, opts);
  } catch (err) {
    throw new MountError(`cannot write the token files into ${dir}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

export function hasTokenFile(dir: string, fileName: string): boolean {
  return existsSync(volumeFiles(dir, fileName).token);
}

/**
 * Empties `dir` of everything in it, never following a symlink out of it.
 * Only called when `dir` is not a mount point and nothing is mounted below it.
 */
export function emptyDir(dir: string): void {
  // readdir and the removals below would act on a symlink's target.
  if (!requireRealDir(dir)) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (lstatSync(path).isDirectory()) rmSync(path, { recursive: true, force: true });
    else unlinkSync(path);
  }
}
