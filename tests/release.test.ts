/**
 * `bun build.ts --release`: four binaries for the node types we support,
 * SHA256SUMS that `sha256sum -c` accepts, the pinned Bun, version and commit
 * baked in, and the same bytes every time the same source is built. Every
 * binary this machine can execute is executed. Outputs go to a temp dir,
 * never to dist/ (other suites use dist/vaulttmpfs while this one runs).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256File } from "../src/ops/install/hash.ts";
import { parseSha256Sums } from "../src/ops/release/sums.ts";
import type { ReleaseManifest } from "../src/ops/release/build.ts";

const ROOT = join(import.meta.dir, "..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; devDependencies: Record<string, string> };
const FILES = ["vaulttmpfs-linux-arm64", "vaulttmpfs-linux-arm64-musl", "vaulttmpfs-linux-x64", "vaulttmpfs-linux-x64-musl"];

const QEMU = Bun.which("qemu-aarch64");
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
const ARM64_SKIP = !QEMU
  ? "qemu-aarch64 is not installed (apt-get install qemu-user libc6-arm64-cross)"
  : !existsSync(join(ARM64_SYSROOT, "lib", "ld-linux-aarch64.so.1"))
    ? `no arm64 glibc in ${ARM64_SYSROOT} (apt-get install libc6-arm64-cross)`
    : "";
const MUSL_LOADER = "/lib/ld-musl-x86_64.so.1";

let tmp: string;
let rel: string;
let again: string;
let manifest: ReleaseManifest;
const buildLog: string[] = [];

/** Runs build.ts with the Bun running this test (the pinned one, or the build refuses). */
function release(outDir: string, ...more: string[]): void {
  const started = performance.now();
  const r = Bun.spawnSync([process.execPath, join(ROOT, "build.ts"), "--release", "--out-dir", outDir, ...more], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`release build failed (${r.exitCode}): ${r.stdout.toString()}${r.stderr.toString()}`);
  buildLog.push(`${more.join(" ") || "all targets"}: ${Math.round(performance.now() - started)} ms\n${r.stdout.toString()}`);
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "vaulttmpfs-release-"));
  rel = join(tmp, "release");
  again = join(tmp, "again");
  // x64 twice, back to back in different dirs: the reproducibility check below.
  release(again, "--targets", "linux-x64");
  release(rel);
  manifest = JSON.parse(readFileSync(join(rel, "release.json"), "utf8"));
  console.log(buildLog.join("\n"));
}, 90_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ELF machine and program interpreter: proves each file really is the target it is named after. */
function elfInfo(path: string): { machine: number; interp: string } {
  const fd = openSync(path, "r");
  const head = Buffer.alloc(8192);
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  if (head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  const interp = /\/lib[^\0]*\/ld-[^\0]+\.so\.[12]/.exec(head.toString("latin1"))?.[0] ?? "";
  return { machine: head.readUInt16LE(18), interp };
}

function run(argv: string[], cwd?: string) {
  const r = Bun.spawnSync(argv, { env: { PATH: "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe", ...(cwd ? { cwd } : {}) });
  return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** `init` answers with the capabilities, `version` with what release.json says was baked in. */
function expectWorkingDriver(prefix: string[], file: string): void {
  const init = run([...prefix, join(rel, file), "init"]);
  expect(init.exitCode).toBe(0);
  expect(JSON.parse(init.stdout)).toEqual({ status: "Success", capabilities: expect.objectContaining({ attach: false, selinuxRelabel: true }) });
  const version = run([...prefix, join(rel, file), "version", "--json"]);
  expect(JSON.parse(version.stdout)).toEqual({ version: PKG.version, commit: manifest.commit });
}

describe("release build", () => {
  test("four binaries and a SHA256SUMS that matches them", () => {
    expect(readdirSync(rel).sort()).toEqual(["SHA256SUMS", ...FILES, "release.json"].sort());
    const sums = parseSha256Sums(readFileSync(join(rel, "SHA256SUMS"), "utf8"));
    expect([...sums.keys()]).toEqual(FILES); // sorted, exactly the four
    for (const file of FILES) {
      const actual = sha256File(join(rel, file));
      expect(sums.get(file)).toBe(actual.sha256);
      expect(actual.bytes).toBeGreaterThan(90_000_000);
      expect(manifest.artifacts.find((a) => a.file === file)).toMatchObject({ sha256: actual.sha256, bytes: actual.bytes });
    }
    const check = run(["sha256sum", "-c", "SHA256SUMS"], rel);
    expect(check.exitCode).toBe(0);
    expect(check.stdout.trim().split("\n")).toEqual(FILES.map((f) => `${f}: OK`));
  }, 10_000);

  test("built by the pinned Bun, with the package version and the git commit baked in", () => {
    expect(manifest.bun.version).toBe(PKG.devDependencies.bun!);
    expect(manifest.bun.version).toBe(Bun.version);
    expect(manifest.version).toBe(PKG.version);
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
    expect(manifest.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
    expect(manifest.commit.startsWith(head) || head === "").toBe(true);
  });

  test("each file is the architecture and libc it is named after", () => {
    const x64 = 62;
    const aarch64 = 183;
    expect(elfInfo(join(rel, "vaulttmpfs-linux-x64"))).toEqual({ machine: x64, interp: "/lib64/ld-linux-x86-64.so.2" });
    expect(elfInfo(join(rel, "vaulttmpfs-linux-arm64"))).toEqual({ machine: aarch64, interp: "/lib/ld-linux-aarch64.so.1" });
    expect(elfInfo(join(rel, "vaulttmpfs-linux-x64-musl"))).toEqual({ machine: x64, interp: "/lib/ld-musl-x86_64.so.1" });
    expect(elfInfo(join(rel, "vaulttmpfs-linux-arm64-musl"))).toEqual({ machine: aarch64, interp: "/lib/ld-musl-aarch64.so.1" });
  });

  test("reproducible: the same target built twice, into different dirs, has the same bytes", () => {
    expect(readdirSync(again).sort()).toEqual(["SHA256SUMS", "release.json", "vaulttmpfs-linux-x64"]);
    expect(sha256File(join(again, "vaulttmpfs-linux-x64")).sha256).toBe(sha256File(join(rel, "vaulttmpfs-linux-x64")).sha256);
    // each target was built under the fixed basename, not its release name
    const bytes = readFileSync(join(rel, "vaulttmpfs-linux-arm64"));
    expect(bytes.includes("/$bunfs/root/vaulttmpfs")).toBe(true);
    expect(bytes.includes("/$bunfs/root/vaulttmpfs-linux")).toBe(false);
  }, 10_000);

  test("no temp dirs are left behind", () => {
    expect(readdirSync(rel).filter((n) => n.startsWith("."))).toEqual([]);
  });
});

describe("the binaries run", () => {
  test("linux-x64 natively: init, version; and it never autoloads a .env from its cwd", () => {
    expectWorkingDriver([], "vaulttmpfs-linux-x64");
    const cwd = join(tmp, "cwd-with-dotenv");
    mkdirSync(cwd);
    // Loaded, this .env would make every config load fail.
    writeFileSync(join(cwd, ".env"), "VAULT_ADDR=ftp://from-dotenv\n");
    writeFileSync(join(cwd, "bunfig.toml"), "this is not toml [[[\n");
    const env = { VAULTTMPFS_STATE_DIR: join(tmp, "state"), VAULTTMPFS_LOG_FILE: "", PATH: "/usr/bin:/bin" };
    const r = Bun.spawnSync([join(rel, "vaulttmpfs-linux-x64"), "gc", "--dry-run", "--json"], { cwd, env });
    expect(r.stderr.toString()).toBe("");
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ dryRun: true, items: [], pending: 0 });
  });

  test.skipIf(ARM64_SKIP !== "")(`linux-arm64 under qemu-aarch64 -L ${ARM64_SYSROOT}${ARM64_SKIP && ` [skipped: ${ARM64_SKIP}]`}`, () => {
    expectWorkingDriver([QEMU!, "-L", ARM64_SYSROOT], "vaulttmpfs-linux-arm64");
  }, 30_000);

  const muslSkip = muslSkipReason(MUSL_LOADER);
  test.skipIf(muslSkip !== "")(`linux-x64-musl with ${MUSL_LOADER}${muslSkip && ` [skipped: ${muslSkip}]`}`, () => {
    expectWorkingDriver([], "vaulttmpfs-linux-x64-musl");
  });
});

/**
 * Why the musl build cannot run here, or "" when it can: it needs the musl
 * loader and libstdc++/libgcc built for musl on the loader's search path
 * (Alpine: apk add libstdc++ libgcc). Debian's `musl` package has the loader
 * but no musl libstdc++, so on Debian this skips.
 */
function muslSkipReason(loader: string): string {
  if (!existsSync(loader)) return `no musl loader at ${loader} (an Alpine host, or apt-get install musl plus a musl libstdc++)`;
  const pathFile = "/etc/ld-musl-x86_64.path";
  const dirs = existsSync(pathFile) ? readFileSync(pathFile, "utf8").split(/[:\n]/).filter(Boolean) : ["/lib", "/usr/local/lib", "/usr/lib"];
  const missing = ["libstdc++.so.6", "libgcc_s.so.1"].filter((lib) => !dirs.some((d) => existsSync(join(d, lib))));
  return missing.length ? `${loader} exists but ${missing.join(" and ")} for musl are not in ${dirs.join(":")}` : "";
}
