/**
 * The node-local checks of `vaulttmpfs doctor`: the binary the kubelet will
 * run, the state dir, mount/umount, and (on request) a real tmpfs mount.
 */
import { accessSync, closeSync, constants, mkdtempSync, openSync, readSync, rmdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { errorMessage } from "../../errors.ts";
import { TEMP_PREFIX } from "../../fsutil/atomic.ts";
import { stateTreeProblems } from "../../state/safe-dir.ts";
import { openJournal } from "../../state/journal.ts";
import type { Tmpfs } from "../../volume/tmpfs.ts";
import { fail, ok, skip, warn, type CheckResult } from "./checks.ts";
import type { DriverName } from "../install/name.ts";
import { octalMode } from "../../fsutil/mode.ts";

/** Where src/volume/tmpfs.ts looks for mount and umount, in its order. */
export const MOUNT_TOOL_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] as const;

/** Where the kubelet finds the driver: `--plugin-dir` and `--driver`, parsed as `install` parses them. */
export interface PluginLocation {
  readonly pluginDir: string;
  readonly driver: DriverName;
}

/** `<plugin dir>/<vendor~name>/<name>`: what the kubelet execs. */
export function executablePath(loc: PluginLocation): string {
  return join(loc.pluginDir, loc.driver.dirName, loc.driver.name);
}

export interface RunningBinary {
  readonly path: string;
  /** False when running from source (`bun src/main.ts`): then there is no binary to compare. */
  readonly compiled: boolean;
}

function statOrCode(path: string): Stats | string {
  try {
    return statSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? errorMessage(err);
  }
}

export function checkInstall(loc: PluginLocation, self: RunningBinary): CheckResult {
  const exe = executablePath(loc);
  const st = statOrCode(exe);
  const install = `vaulttmpfs install --plugin-dir ${loc.pluginDir} --driver ${loc.driver.dirName}`;
  if (typeof st === "string") return fail("install", st === "ENOENT" ? `not installed: ${exe} does not exist` : `cannot stat ${exe} (${st})`, st === "ENOENT" ? `${install} (and check the kubelet's volumePluginDir)` : "run doctor as root");
  if (!st.isFile()) return fail("install", `${exe} is not a regular file`, install);
  const mode = octalMode(st.mode);
  if ((st.mode & 0o111) === 0) return fail("install", `${exe} is not executable (mode ${mode})`, `chmod 0755 ${exe}`);
  if (st.mode & 0o002) return fail("install", `${exe} is world-writable (mode ${mode}): any user can replace what the kubelet runs as root`, `chmod 0755 ${exe}`);
  if (st.uid !== 0) return warn("install", `${exe} belongs to uid ${st.uid}: that user can replace what the kubelet runs as root`, `chown root ${exe}`);
  if (!self.compiled) return ok("install", `${exe}: executable, mode ${mode} (running from source: not compared with this binary)`);
  if (!sameContents(exe, self.path)) return warn("install", `${exe} differs from this binary (${self.path}): the kubelet runs another build`, install);
  return ok("install", `${exe}: executable, mode ${mode}, identical to this binary`);
}

/** Byte-for-byte equality, reading both files in 1 MiB chunks (the binary is ~100 MB). */
export function sameContents(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  if (sa.size !== sb.size) return false;
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  const [fa, fb] = [openSync(a, "r"), openSync(b, "r")];
  const [ba, bb] = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)];
  try {
    for (let pos = 0; pos < sa.size; ) {
      const n = readSync(fa, ba, 0, ba.length, pos);
      if (n <= 0 || readSync(fb, bb, 0, n, pos) !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
      pos += n;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** Proves the state dir takes a new file, the way the journal writes one. */
function probeWrite(dir: string): string | undefined {
  const probe = join(dir, `${TEMP_PREFIX}doctor-${randomBytes(6).toString("hex")}`);
  try {
    closeSync(openSync(probe, "wx", 0o600));
    unlinkSync(probe);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? errorMessage(err);
  }
}

export function checkStateDir(dir: string): CheckResult {
  const st = statOrCode(dir);
  if (st === "ENOENT") return warn("state-dir", `${dir} does not exist yet (the driver creates it at the first mount)`, `mkdir -m 0700 ${dir}`);
  if (typeof st === "string") return fail("state-dir", `cannot stat ${dir} (${st})`, "run doctor as root");
  if (!st.isDirectory()) return fail("state-dir", `${dir} is not a directory`, "set VAULTTMPFS_STATE_DIR to a directory");
  const unsafe = stateTreeProblems(dir);
  if (unsafe.length > 0) return fail("state-dir", `the driver refuses this state dir: ${unsafe.join("; ")}`, "make it and volumes/, locks/, staging/ real root-owned dirs without group/other write (chown root:root, chmod 0700)");
  let unreadable: string[];
  try {
    unreadable = openJournal(dir).list().unreadable;
  } catch (err) {
    return fail("state-dir", `cannot list the journal in ${dir}: ${errorMessage(err)}`, "run doctor as root; check the state dir's permissions");
  }
  if (unreadable.length > 0) return fail("state-dir", `journal files that cannot be used (corrupt, or not matching their name): ${unreadable.slice(0, 5).join(", ")}${unreadable.length > 5 ? ` and ${unreadable.length - 5} more` : ""}; their volumes cannot be mounted again`, `run "vaulttmpfs gc" (it revokes what it can salvage); inspect and remove what it leaves in ${dir}/volumes`);
  const code = probeWrite(dir);
  if (code) return fail("state-dir", `cannot create a file in ${dir} (${code}): mounts fail without their journal`, "make it writable by root (a read-only mount?) or set VAULTTMPFS_STATE_DIR");
  const mode = octalMode(st.mode);
  if ((st.mode & 0o777) !== 0o700) return warn("state-dir", `${dir} is mode ${mode}: other users can read the journal (pods, token accessors)`, `chmod 0700 ${dir}`);
  return ok("state-dir", `${dir}: writable, mode ${mode}`);
}

function findTool(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    try {
      const path = join(dir, name);
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not here: try the next dir
    }
  }
  return undefined;
}

export function checkMountTools(dirs: readonly string[] = MOUNT_TOOL_DIRS): CheckResult {
  const found = (["mount", "umount"] as const).map((tool) => ({ tool, path: findTool(tool, dirs) }));
  const missing = found.filter((f) => f.path === undefined).map((f) => f.tool);
  if (missing.length > 0) return fail("mount-tools", `${missing.join(" and ")} not found in ${dirs.join(", ")}`, "install util-linux (it provides mount and umount)");
  return ok("mount-tools", found.map((f) => f.path).join(", "));
}

/** Mounts a tmpfs the way the driver does, under the state dir, then removes it. */
export async function checkMountTest(stateDir: string, tmpfs: Tmpfs, now: () => number = Date.now): Promise<CheckResult> {
  const started = now();
  let dir: string;
  try {
    dir = mkdtempSync(join(stateDir, `${TEMP_PREFIX}doctor-mount-`));
  } catch (err) {
    return skip("mount-test", `cannot make a test dir in ${stateDir}: ${errorMessage(err)}`);
  }
  let mounted = false;
  try {
    await tmpfs.mount({ dir, mode: 0o700 });
    mounted = true;
    const entry = tmpfs.mountAt(dir);
    if (entry?.fsType !== "tmpfs") return fail("mount-test", `mount succeeded but ${dir} shows ${entry ? entry.fsType : "no mount"} in mountinfo`, "check that this shell is in the host's mount namespace");
    await tmpfs.unmount(dir);
    mounted = false;
    return ok("mount-test", `mounted and removed a tmpfs in ${stateDir} (${now() - started} ms)`);
  } catch (err) {
    return fail("mount-test", errorMessage(err), "run as root in the host mount namespace; check SELinux/AppArmor denials (dmesg)");
  } finally {
    if (mounted) await tmpfs.unmount(dir).catch(() => undefined);
    try {
      rmdirSync(dir);
    } catch {
      // a lazily detached mount may hold it for a moment; it is a dot-file the journal ignores
    }
  }
}
