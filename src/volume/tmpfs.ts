import { existsSync } from "node:fs";
import { MountError } from "../errors.ts";
import { canonicalPath, mountAt, mountsBelow, readMountInfo, type MountEntry } from "./mountinfo.ts";
import { octalMode } from "../fsutil/mode.ts";

/** Source name of every tmpfs this driver mounts: it marks them as ours in mountinfo. */
export const TMPFS_SOURCE = "vaulttmpfs";

/** A mount this driver made: a tmpfs with our source name. Anything else is never unmounted. */
export function isOurs(entry: MountEntry | undefined): boolean {
  return entry?.fsType === "tmpfs" && entry.source === TMPFS_SOURCE;
}
export const TMPFS_SIZE = "1m";

export interface TmpfsSpec {
  readonly dir: string;
  /** Mode of the tmpfs root directory. */
  readonly mode: number;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly stderr: string;
}
export type Runner = (argv: string[]) => Promise<RunResult>;

const SAFE_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
const COMMAND_TIMEOUT_MS = 10_000;

function findBinary(name: string): string {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return name;
}

/**
 * Runs a command with a fixed environment, stdin closed and stdout/stderr
 * captured: the kubelet reads our own stdout, so no child may write to it.
 */
export const spawnRunner: Runner = async (argv) => {
  const child = Bun.spawn(argv, { env: SAFE_ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: COMMAND_TIMEOUT_MS });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return { exitCode: child.exitCode, stderr: (stderr || stdout).trim() };
};

export function tmpfsOptions(spec: TmpfsSpec): string {
  const opts = ["nodev", "nosuid", "noexec", "noatime", `size=${TMPFS_SIZE}`, `mode=${octalMode(spec.mode)}`];
  // Ownership is set by the mount itself, so there is no instant when the root dir belongs to someone else.
  if (spec.uid !== undefined) opts.push(`uid=${spec.uid}`);
  if (spec.gid !== undefined) opts.push(`gid=${spec.gid}`);
  return opts.join(",");
}

/** Mounting and unmounting tmpfs with util-linux `mount`/`umount`. */
export function createTmpfs(run: Runner = spawnRunner, mountInfo: (mentioning?: string) => MountEntry[] = readMountInfo) {
  async function exec(argv: string[], what: string): Promise<void> {
    let result: RunResult;
    try {
      result = await run(argv);
    } catch (err) {
      throw new MountError(`${what}: cannot run ${argv[0]}: ${(err as NodeJS.ErrnoException).code ?? err}`, { command: argv });
    }
    if (result.exitCode !== 0) {
      throw new MountError(`${what}: ${argv[0]} exited ${result.exitCode}: ${result.stderr.slice(0, 300)}`, { command: argv, ...result });
    }
  }

  /** The mount at `dir`, if `dir` is a mount point. */
  function mountAtDir(dir: string): MountEntry | undefined {
    const path = canonicalPath(dir);
    return mountAt(mountInfo(path), path);
  }

  return {
    mountAt: mountAtDir,

    mountsBelow(dir: string): MountEntry[] {
      const path = canonicalPath(dir);
      return mountsBelow(mountInfo(`${path}/`), path);
    },

    async mount(spec: TmpfsSpec): Promise<void> {
      await exec([findBinary("mount"), "-t", "tmpfs", "-o", tmpfsOptions(spec), TMPFS_SOURCE, spec.dir], `mount tmpfs on ${spec.dir}`);
    },

    /** Makes the mount read-only, keeping its other options; the later `mount --move` keeps it read-only. */
    async remountReadOnly(dir: string): Promise<void> {
      await exec([findBinary("mount"), "-o", "remount,ro,bind", dir], `remount ${dir} read-only`);
    },

    /** Makes `dir` a mount point of its own with private propagation: mounts below it stay in this namespace. */
    async makePrivateMountPoint(dir: string): Promise<void> {
      if (!mountAtDir(dir)) await exec([findBinary("mount"), "--bind", dir, dir], `bind ${dir} onto itself`);
      await exec([findBinary("mount"), "--make-private", dir], `make ${dir} private`);
    },

    /**
     * Moves the tmpfs mounted at `source` to `target` in one step (MS_MOVE): it
     * appears there complete, and `source` is left an empty dir, so no unmount
     * follows. The kernel refuses to move a mount whose parent is shared: the
     * staging root is private for that reason too.
     */
    async move(source: string, target: string): Promise<void> {
      await exec([findBinary("mount"), "--move", source, target], `move ${source} onto ${target}`);
    },

    /**
     * Unmounts `dir`. If it is busy, detaches it lazily: the kubelet only asks
     * once every container is gone, and a lazily detached tmpfs frees itself.
     * Returns true when it had to detach lazily.
     */
    async unmount(dir: string): Promise<boolean> {
      try {
        await exec([findBinary("umount"), dir], `unmount ${dir}`);
        return false;
      } catch (err) {
        if (!/busy/i.test((err as MountError).detail?.stderr ?? "")) throw err;
        await exec([findBinary("umount"), "-l", dir], `lazy unmount ${dir}`);
        return true;
      }
    },
  };
}

export type Tmpfs = ReturnType<typeof createTmpfs>;
