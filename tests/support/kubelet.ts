/**
 * Plays the kubelet: runs the compiled driver exactly as
 * pkg/volume/flexvolume does (argv array, no shell, stdin /dev/null, the
 * kubelet's environment, stdout+stderr read together and parsed as one JSON
 * value), creates the volume dir 0750 before `mount`, skips `unmount` when the
 * dir is gone and `rmdir`s it afterwards. See specs/flexvolume-contract.md §8.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const DRIVER_DIR = "cloudwatt~vaulttmpfs";
/** The `status` of a call whose driver process was killed with SIGKILL (there is no answer). */
export const KILLED = "(killed)";
/** The compiled driver; VAULTTMPFS_TEST_BINARY points the suite at another build. */
export const BINARY = process.env.VAULTTMPFS_TEST_BINARY ?? join(import.meta.dir, "..", "..", "dist", "vaulttmpfs");

export interface DriverCall {
  readonly argv: readonly string[];
  /** stdout + stderr, as the kubelet's CombinedOutput sees them. */
  readonly combined: string;
  readonly stderr: string;
  readonly exitCode: number;
  readonly json: { status: string; message?: string; capabilities?: Record<string, boolean> };
  readonly ms: number;
}

export interface PodSpec {
  readonly uid: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly serviceAccount?: string;
  readonly volume?: string;
  readonly fsGroup?: number;
  readonly readOnly?: boolean;
}

/** Go's json.Marshal(map[string]string): sorted keys, no spaces, HTML-escaped. */
export function goJson(options: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify(sorted)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

export class Kubelet {
  /** Sees every driver process as it starts (the chaos suite kills some with SIGKILL). */
  onSpawn: ((child: Subprocess, argv: readonly string[]) => void) | undefined;

  constructor(
    readonly rootDir: string,
    public env: Record<string, string>,
    readonly binary: string = BINARY,
  ) {}

  volumeDir(uid: string, volume = "vault"): string {
    return join(this.rootDir, "pods", uid, "volumes", DRIVER_DIR, volume);
  }

  /** Runs the driver; throws if the combined output is not exactly one JSON object. */
  async call(argv: readonly string[], env: Record<string, string> = this.env): Promise<DriverCall> {
    const started = performance.now();
    const child = Bun.spawn([this.binary, ...argv], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.onSpawn?.(child, argv);
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    const exitCode = await child.exited;
    const combined = stdout + stderr;
    // A killed driver answers nothing; the kubelet sees an error and tries again later.
    if (child.signalCode === "SIGKILL") return { argv, combined, stderr, exitCode, json: { status: KILLED }, ms: performance.now() - started };
    let json: DriverCall["json"];
    try {
      json = JSON.parse(combined);
    } catch {
      throw new Error(`driver output is not one JSON value (argv ${JSON.stringify(argv[0])}): ${JSON.stringify(combined.slice(0, 500))}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`driver output is not a JSON object: ${combined}`);
    return { argv, combined, stderr, exitCode, json, ms: performance.now() - started };
  }

  init(): Promise<DriverCall> {
    return this.call(["init"]);
  }

  /** The options the kubelet builds for an inline flexVolume (keys 1–4 of the contract), plus the user's. */
  mountOptions(pod: PodSpec, user: Record<string, string>): Record<string, string> {
    return {
      "kubernetes.io/fsType": "",
      "kubernetes.io/readwrite": pod.readOnly ? "ro" : "rw",
      "kubernetes.io/pvOrVolumeName": pod.volume ?? "vault",
      "kubernetes.io/pod.name": pod.name ?? "app",
      "kubernetes.io/pod.namespace": pod.namespace ?? "default",
      "kubernetes.io/pod.uid": pod.uid,
      "kubernetes.io/serviceAccount.name": pod.serviceAccount ?? "default",
      ...(pod.fsGroup === undefined ? {} : { "kubernetes.io/mounterArgs.FsGroup": String(pod.fsGroup) }),
      ...user,
    };
  }

  /** SetUpAt: skip when already a mount point, else mkdir 0750, call mount, os.Remove the dir on failure. */
  async mount(pod: PodSpec, user: Record<string, string>, env: Record<string, string> = {}): Promise<DriverCall & { dir: string; skipped?: true }> {
    const dir = this.volumeDir(pod.uid, pod.volume);
    // The kubelet's IsLikelyNotMountPoint: a mount point is a finished volume, the driver is not called.
    if (existsSync(dir) && statSync(dir).dev !== statSync(join(dir, "..")).dev) {
      return { argv: [], combined: "", stderr: "", exitCode: 0, json: { status: "Success" }, ms: 0, dir, skipped: true };
    }
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const call = await this.call(["mount", dir, goJson(this.mountOptions(pod, user))], { ...this.env, ...env });
    if (call.json.status !== "Success") {
      try {
        rmdirSync(dir);
      } catch {
        // the kubelet ignores this error too
      }
    }
    return { ...call, dir };
  }

  /** TearDownAt: skipped when the path is gone; rmdir (never rm -r) after Success. */
  async unmount(dir: string): Promise<DriverCall | "skipped"> {
    if (!existsSync(dir)) return "skipped";
    const call = await this.call(["unmount", dir]);
    if (call.json.status === "Success" && existsSync(dir)) rmdirSync(dir);
    return call;
  }
}

/** The mount at `dir` in this process's mount namespace. */
export function mountAt(dir: string): { fsType: string; source: string; mountOptions: string[]; superOptions: string[] } | undefined {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  const matches = lines
    .map((l) => l.split(" "))
    .filter((f) => f[4] === dir)
    .map((f) => {
      const sep = f.indexOf("-", 6);
      return { fsType: f[sep + 1] ?? "", source: f[sep + 2] ?? "", mountOptions: (f[5] ?? "").split(","), superOptions: (f[sep + 3] ?? "").split(",") };
    });
  return matches.at(-1);
}

export function mountCount(dir: string): number {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4] === dir).length;
}

/** Mount tests must never touch the host's mount table: they run under `unshare -m` (see tests/in-namespace.sh). */
export function requirePrivateMountNamespace(): void {
  const ns = Bun.spawnSync(["readlink", "/proc/self/ns/mnt"]).stdout.toString().trim();
  const host = Bun.spawnSync(["readlink", "/proc/1/ns/mnt"]).stdout.toString().trim();
  if (process.getuid?.() !== 0 || process.env.VAULTTMPFS_TEST_NS !== "private" || ns === host) {
    throw new Error(`mount tests need root in a private mount namespace (now ${ns}); run them with \`npm test\`, which wraps bun test in unshare -m`);
  }
}

/** Runs an operator command (`gc`, `doctor`) of the compiled driver; async, so an emulator in this process can answer. */
export async function runOperator(argv: readonly string[], env: Record<string, string>, binary = BINARY): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([binary, ...argv], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { exitCode: await child.exited, stdout, stderr };
}
