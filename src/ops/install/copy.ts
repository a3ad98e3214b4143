import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { DriverError, errorMessage } from "../../errors.ts";
import { fsyncDir } from "../../fsutil/atomic.ts";
import { copyHashing, sha256File } from "./hash.ts";
import type { DriverName } from "./name.ts";

export interface InstallResult {
  readonly status: "installed" | "unchanged";
  /** `flexVolume.driver` for pods: `vendor/name`. */
  readonly driver: string;
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

const EXEC_MODE = 0o755;
/** A temp file this old belongs to an install that died (OOM-kill, node crash), not to one in progress. */
const STALE_TEMP_MS = 10 * 60_000;

/**
 * Puts `source` at `<pluginDir>/<vendor~name>/<name>` so the kubelet never
 * runs a half-written binary: the bytes go to a dot-file beside the target
 * (the kubelet's watcher ignores names starting with '.'), are fsynced and
 * made executable, then renamed over the target in one step. When the target
 * already holds the same bytes nothing is touched at all, because any event
 * in the driver dir makes every kubelet re-run `init` and replace the plugin.
 */
export function installDriver(opts: { source: string; pluginDir: string; driver: DriverName; now?: () => number }): InstallResult {
  const dir = join(opts.pluginDir, opts.driver.dirName);
  const path = join(dir, opts.driver.name);
  const src = digestSource(opts.source);
  const result = { driver: opts.driver.pluginName, path, sha256: src.sha256, bytes: src.bytes };
  removeStaleTemps(dir, opts.driver.name, (opts.now ?? Date.now)());
  if (holdsSameBinary(path, src)) return { status: "unchanged", ...result };

  ensureDriverDir(dir);
  const temp = writeTemp(dir, opts.driver.name, opts.source, src.sha256);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkQuietly(temp);
    throw new DriverError(`cannot rename ${temp} to ${path}: ${describeFsError(err)}`);
  }
  fsyncDir(dir);
  return { status: "installed", ...result };
}

function digestSource(source: string): { sha256: string; bytes: number } {
  try {
    if (!lstatSync(source).isFile()) throw new DriverError(`${source} is not a regular file`);
    return sha256File(source);
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw new DriverError(`cannot read the binary to install, ${source}: ${describeFsError(err)}`);
  }
}

/** Size first (free), then the streamed digest; an installed file that is not executable counts as different. */
function holdsSameBinary(path: string, src: { sha256: string; bytes: number }): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isFile() || st.size !== src.bytes || (st.mode & 0o7777) !== EXEC_MODE) return false;
  return sha256File(path).sha256 === src.sha256;
}

function ensureDriverDir(dir: string): void {
  try {
    // mkdir's mode is narrowed by the umask; the kubelet only needs root access, but the contract says 0755.
    if (mkdirSync(dir, { recursive: true, mode: EXEC_MODE }) !== undefined) chmodSync(dir, EXEC_MODE);
  } catch (err) {
    throw new DriverError(`cannot create the driver directory ${dir}: ${describeFsError(err)}`);
  }
}

/** Copies to `.<name>.install-<random>`, checks the copy's digest, fsyncs, then sets 0755. */
function writeTemp(dir: string, name: string, source: string, sha256: string): string {
  const temp = join(dir, `${tempPrefix(name)}${randomBytes(6).toString("hex")}`);
  let fd: number;
  try {
    fd = openSync(temp, "wx", 0o600);
  } catch (err) {
    throw new DriverError(`cannot create ${temp}: ${describeFsError(err)}`);
  }
  try {
    const copied = copyHashing(source, fd);
    if (copied.sha256 !== sha256) throw new DriverError(`${source} changed while it was being copied; run install again`);
    fsyncSync(fd);
    fchmodSync(fd, EXEC_MODE);
  } catch (err) {
    closeSync(fd);
    unlinkQuietly(temp);
    throw err instanceof DriverError ? err : new DriverError(`cannot write ${temp}: ${describeFsError(err)}`);
  }
  closeSync(fd);
  return temp;
}

const tempPrefix = (name: string) => `.${name}.install-`;

/** Removes temp files an earlier, killed install left behind; a ~105 MB leftover per crash adds up. */
function removeStaleTemps(dir: string, name: string, nowMs: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of names) {
    if (!entry.startsWith(tempPrefix(name))) continue;
    const p = join(dir, entry);
    try {
      if (nowMs - lstatSync(p).mtimeMs > STALE_TEMP_MS) unlinkSync(p);
    } catch {
      // another installer removed it first
    }
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** An errno with the fix an operator most likely needs. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EROFS") return `read-only file system (EROFS); this node's kubelet probably uses another plugin directory: pass --plugin-dir (GKE/COS /home/kubernetes/flexvolume, Flatcar and RKE /var/lib/kubelet/volumeplugins)`;
  if (code === "EACCES" || code === "EPERM") return `permission denied (${code}); install needs root, or write access to the plugin directory`;
  if (code === "ENOSPC") return "no space left on device (ENOSPC); the binary needs ~110 MB free";
  const message = errorMessage(err);
  return code && !message.startsWith(code) ? `${code}: ${message}` : message;
}
