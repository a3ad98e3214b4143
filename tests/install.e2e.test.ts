/**
 * `vaulttmpfs install`: the kubelet must never see a half-written binary, and
 * an install that changes nothing must not make a single filesystem event
 * (each one re-runs `init` on the kubelet and replaces the plugin).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli.ts";
import { defaultContext } from "../src/context.ts";
import { sha256File } from "../src/ops/install/hash.ts";
import { BINARY } from "./support/kubelet.ts";

const INOTIFYWAIT = Bun.which("inotifywait");
const NO_INOTIFY = INOTIFYWAIT ? "" : " [skipped: inotifywait not installed; apt-get install inotify-tools]";

let root: string;
let env: Record<string, string>;
const target = (pluginDir: string) => join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs");
let binarySha: string;

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing; run "bun build.ts" (or set VAULTTMPFS_TEST_BINARY)`);
  root = mkdtempSync(join(tmpdir(), "vaulttmpfs-install-"));
  env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", VAULTTMPFS_LOG_FILE: join(root, "ops.log") };
  binarySha = sha256File(BINARY).sha256;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The compiled binary installing itself, as the DaemonSet does. */
async function runBinary(args: string[], extraEnv: Record<string, string> = {}) {
  const child = Bun.spawn([BINARY, "install", ...args], { env: { ...env, ...extraEnv }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode };
}

/** In this process (for coverage); the file to install comes from the test hook. */
async function runInProcess(args: string[], source?: string) {
  const useEnv = source ? { ...env, VAULTTMPFS_INSTALL_SOURCE: source } : env;
  let stdout = "";
  let stderr = "";
  const exitCode = await main(["install", ...args], useEnv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t) }, defaultContext(useEnv));
  return { stdout, stderr, exitCode };
}

const freshPluginDir = () => join(mkdtempSync(join(root, "node-")), "plugins");

describe("fresh install", () => {
  test("creates <dir>/cloudwatt~vaulttmpfs/vaulttmpfs, 0755, byte-identical to the running binary, no temp file left", async () => {
    const dir = freshPluginDir();
    const r = await runBinary(["--plugin-dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`installed cloudwatt/vaulttmpfs at ${target(dir)} (sha256 ${binarySha}, ${statSync(BINARY).size} bytes)\n`);
    expect(statSync(target(dir)).mode & 0o7777).toBe(0o755);
    expect(statSync(join(dir, "cloudwatt~vaulttmpfs")).mode & 0o7777).toBe(0o755);
    expect(sha256File(target(dir)).sha256).toBe(binarySha);
    expect(readdirSync(join(dir, "cloudwatt~vaulttmpfs"))).toEqual(["vaulttmpfs"]);
    // the installed copy is a working driver
    const init = Bun.spawnSync([target(dir), "init"], { env: {} });
    expect(JSON.parse(init.stdout.toString())).toMatchObject({ status: "Success", capabilities: { attach: false } });
    expect(readFileSync(env.VAULTTMPFS_LOG_FILE!, "utf8")).toContain(`"op":"install","result":"success"`);
  });

  test("--json prints one object; --driver picks the directory and executable name", async () => {
    const dir = freshPluginDir();
    const r = await runBinary(["--plugin-dir", dir, "--driver", "example.com~vault-token", "--json"]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      status: "installed",
      driver: "example.com/vault-token",
      path: join(dir, "example.com~vault-token", "vault-token"),
      sha256: binarySha,
      bytes: statSync(BINARY).size,
    });
  });
});

describe("an install that changes nothing touches nothing", () => {
  test(`second run: unchanged, same inode, mtime and ctime, and no inotify event the kubelet would act on${NO_INOTIFY ? " (inode/ctime only: inotifywait not installed)" : ""}`, async () => {
    const dir = freshPluginDir();
    expect((await runBinary(["--plugin-dir", dir])).exitCode).toBe(0);
    const before = statSync(target(dir));
    const watch = await watchEvents(dir);
    const r = await runBinary(["--plugin-dir", dir, "--json"]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "unchanged", sha256: binarySha });
    const after = statSync(target(dir));
    expect([after.ino, after.mtimeMs, after.ctimeMs, after.mode]).toEqual([before.ino, before.mtimeMs, before.ctimeMs, before.mode]);
    expect(await watch.stop()).toEqual([]);
  });

  test.skipIf(!INOTIFYWAIT)(`the watcher is live: a real change shows up, and the kubelet sees only the final rename of the executable${NO_INOTIFY}`, async () => {
    const dir = freshPluginDir();
    expect((await runBinary(["--plugin-dir", dir])).exitCode).toBe(0);
    const watch = await watchEvents(dir, { includeDotFiles: true });
    expect((await runInProcess(["--plugin-dir", dir], withExtraByte())).exitCode).toBe(0);
    const events = await watch.stop();
    const visible = events.filter((e) => !e.name.split("/").at(-1)!.startsWith("."));
    expect(visible).toEqual([{ events: "MOVED_TO", name: target(dir) }]);
    expect(events.some((e) => e.events.includes("CLOSE_WRITE") && e.name.includes("/.vaulttmpfs.install-"))).toBe(true);
  });

  test("identical bytes with the wrong mode are reinstalled (the kubelet could not execute them)", async () => {
    const dir = freshPluginDir();
    expect((await runBinary(["--plugin-dir", dir])).exitCode).toBe(0);
    chmodSync(target(dir), 0o644);
    const r = await runBinary(["--plugin-dir", dir, "--json"]);
    expect(JSON.parse(r.stdout).status).toBe("installed");
    expect(statSync(target(dir)).mode & 0o7777).toBe(0o755);
  });
});

describe("atomic replacement", () => {
  test("a reader hashing the target in a loop during 6 replacements only ever sees the old or the new binary", async () => {
    const dir = freshPluginDir();
    expect((await runBinary(["--plugin-dir", dir])).exitCode).toBe(0);
    const other = withExtraByte();
    const otherSha = sha256File(other).sha256;
    const reader = startReader(target(dir));
    await reader.firstRead;
    for (const source of [other, BINARY, other, BINARY, other, BINARY]) {
      const r = await runInProcess(["--plugin-dir", dir, "--json"], source);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: "installed" });
    }
    const seen = await reader.stop();
    expect(Object.keys(seen).sort()).toEqual([binarySha, otherSha].sort());
    expect(Object.values(seen).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4);
    expect(readdirSync(join(dir, "cloudwatt~vaulttmpfs"))).toEqual(["vaulttmpfs"]);
  }, 60_000);

  test("temp files of a killed install are removed once stale; a fresh one (an install in progress) is kept", async () => {
    const dir = freshPluginDir();
    const driverDir = join(dir, "cloudwatt~vaulttmpfs");
    mkdirSync(driverDir, { recursive: true });
    writeFileSync(join(driverDir, ".vaulttmpfs.install-dead"), "partial");
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(driverDir, ".vaulttmpfs.install-dead"), hourAgo, hourAgo);
    writeFileSync(join(driverDir, ".vaulttmpfs.install-busy"), "partial");
    expect((await runInProcess(["--plugin-dir", dir], BINARY)).exitCode).toBe(0);
    expect(readdirSync(driverDir).sort()).toEqual([".vaulttmpfs.install-busy", "vaulttmpfs"]);
  });
});

describe("refusals", () => {
  test.each([
    ["no tilde", "vaulttmpfs", "has 0 '~'"],
    ["two tildes", "a~b~c", "has 2 '~'"],
    ["upper-case vendor", "CloudWatt~vaulttmpfs", `vendor "CloudWatt" must be a DNS subdomain`],
    ["dot-file name (the kubelet would ignore it)", "cloudwatt~.vaulttmpfs", `name ".vaulttmpfs" must be 1-63`],
    ["slash in the name", "cloudwatt~a/b", `name "a/b"`],
  ])("--driver with %s → exit 2 and what to write instead", async (_why, driver, message) => {
    const r = await runInProcess(["--driver", driver, "--plugin-dir", freshPluginDir()], BINARY);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--driver must be <vendor>~<name> as in "cloudwatt~vaulttmpfs"`);
    expect(r.stderr).toContain(message);
  });

  test("a relative --plugin-dir → exit 2", async () => {
    const r = await runInProcess(["--plugin-dir", "plugins"], BINARY);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--plugin-dir must be an absolute path");
  });

  test("not a compiled binary and no test hook → exit 1, saying what to run instead", async () => {
    const r = await runInProcess(["--plugin-dir", freshPluginDir()]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("running the TypeScript source, not the compiled driver");
    expect(r.stderr).toContain(`"dist/vaulttmpfs install"`);
  });

  test("an unwritable plugin dir → exit 1; with --json still one object", async () => {
    const blocker = join(mkdtempSync(join(root, "node-")), "plugins");
    writeFileSync(blocker, "a file where the plugin dir should be");
    const r = await runInProcess(["--plugin-dir", blocker, "--json"], BINARY);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "failed", driver: "cloudwatt/vaulttmpfs", error: expect.stringContaining("cannot create the driver directory") });
  });

  test("a missing source → exit 1 naming the file", async () => {
    const r = await runInProcess(["--plugin-dir", freshPluginDir()], join(root, "no-such-binary"));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`cannot read the binary to install, ${join(root, "no-such-binary")}: ENOENT`);
  });
});

/** A copy of the binary with one byte appended: same size class, different digest. */
function withExtraByte(): string {
  const p = join(root, "vaulttmpfs-plus-one");
  if (!existsSync(p)) {
    copyFileSync(BINARY, p);
    appendFileSync(p, "\n");
  }
  return p;
}

// What fsnotify (the kubelet's watcher) subscribes to, plus close_write to see the temp file being written.
const KUBELET_EVENTS = "create,modify,attrib,moved_to,moved_from,move_self,delete,delete_self,close_write";

interface FsEvent {
  readonly events: string;
  readonly name: string;
}

/**
 * Watches `dir` recursively. With inotifywait: every event except those on
 * dot-files (which the kubelet ignores), unless asked for. Without it: an
 * empty list, and the caller's inode/mtime/ctime checks carry the test.
 */
async function watchEvents(dir: string, opts: { includeDotFiles?: boolean } = {}): Promise<{ stop(): Promise<FsEvent[]> }> {
  if (!INOTIFYWAIT) return { stop: async () => [] };
  const child = Bun.spawn([INOTIFYWAIT, "-m", "-r", "-e", KUBELET_EVENTS, "--format", "%e|%w%f", dir], { stdout: "pipe", stderr: "pipe" });
  const stderr = child.stderr.getReader();
  let banner = "";
  while (!banner.includes("Watches established")) {
    const { value, done } = await stderr.read();
    if (done) throw new Error(`inotifywait failed: ${banner}`);
    banner += new TextDecoder().decode(value);
  }
  const stdout = new Response(child.stdout).text();
  return {
    async stop() {
      await Bun.sleep(300); // let late events arrive
      child.kill();
      const events = (await stdout).split("\n").filter(Boolean).map((l) => ({ events: l.split("|")[0]!, name: l.split("|")[1]! }));
      return opts.includeDotFiles ? events : events.filter((e) => !e.name.split("/").at(-1)!.startsWith("."));
    },
  };
}

/**
 * Another process reads and hashes `path` in a loop, like a kubelet exec'ing
 * it at a random moment. Reports how often it saw each digest.
 */
function startReader(path: string): { firstRead: Promise<void>; stop(): Promise<Record<string, number>> } {
  const stopFile = join(root, `stop-${Math.random().toString(36).slice(2)}`);
  const script = `
    const { createHash } = require("node:crypto");
    const { existsSync, readFileSync } = require("node:fs");
    const seen = {};
    const started = Date.now();
    while (!existsSync(${JSON.stringify(stopFile)}) && Date.now() - started < 50000) {
      const sha = createHash("sha256").update(readFileSync(${JSON.stringify(path)})).digest("hex");
      if (!seen[sha]) console.error("seen " + sha);
      seen[sha] = (seen[sha] ?? 0) + 1;
    }
    console.log(JSON.stringify(seen));`;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const firstRead = (async () => {
    const reader = child.stderr.getReader();
    const { value } = await reader.read();
    if (!new TextDecoder().decode(value).startsWith("seen ")) throw new Error("reader failed to start");
    reader.releaseLock();
  })();
  return {
    firstRead,
    async stop() {
      writeFileSync(stopFile, "");
      const out = await new Response(child.stdout).text();
      await child.exited;
      return JSON.parse(out);
    },
  };
}
