/**
 * Builds the driver.
 *   bun build.ts                       → dist/vaulttmpfs for this host
 *   bun build.ts --outfile PATH        → that file instead
 *   bun build.ts --release [--out-dir DIR] [--targets linux-x64,...]
 *                                      → dist/vaulttmpfs-linux-{x64,arm64}[-musl], SHA256SUMS, release.json
 * A typed Bun.build() call rather than CLI flags, because `bun build`
 * silently ignores misspelled flags.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { flagValue } from "./src/ops/flags.ts";
import { buildRelease } from "./src/ops/release/build.ts";
import { selectTargets } from "./src/ops/release/targets.ts";

const root = import.meta.dir;

export interface BuildTarget {
  readonly target: Bun.Build.CompileTarget | undefined;
  readonly outfile: string;
  /** Default src/main.ts; tests compile their own entry points (a crashing driver, the bench's floors) the same way. */
  readonly entrypoint?: string;
}

/** The short commit, with `-dirty` when tracked or untracked (not ignored) files differ from it, so a release says what it was built from. */
export function gitCommit(): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: root, stdout: "pipe", stderr: "ignore" });
  const head = git("rev-parse", "--short=12", "HEAD");
  if (!head.success) return "unknown";
  const status = git("status", "--porcelain", "--untracked-files=normal");
  const dirty = !status.success || status.stdout.toString().trim() !== "";
  return `${head.stdout.toString().trim()}${dirty ? "-dirty" : ""}`;
}

export async function buildBinary({ target, outfile, entrypoint }: BuildTarget, version: string, commit: string): Promise<void> {
  mkdirSync(join(outfile, ".."), { recursive: true });
  const result = await Bun.build({
    entrypoints: [entrypoint ?? join(root, "src/main.ts")],
    minify: true,
    bytecode: true,
    format: "esm",
    // Lazy chunks: `init` (run on every kubelet probe) loads neither node:fs nor the Vault client:
    // 4 ms and 27 MiB instead of 7 ms and 36 MiB (hyperfine, /usr/bin/time -f %M).
    splitting: true,
    sourcemap: "none",
    define: { BUILD_VERSION: JSON.stringify(version), BUILD_COMMIT: JSON.stringify(commit), "process.env.NODE_ENV": JSON.stringify("production") },
    compile: {
      ...(target ? { target } : {}),
      outfile,
      // The kubelet's cwd is not ours: never pick up a .env or bunfig.toml from it.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) throw new AggregateError(result.logs, `build of ${outfile} failed`);
}

const flag = (name: string) => flagValue(process.argv, name);

if (import.meta.main) {
  const pkg = (await Bun.file(join(root, "package.json")).json()) as { version: string; devDependencies?: Record<string, string> };
  const commit = gitCommit();
  if (process.argv.includes("--release")) {
    const outDir = resolve(flag("--out-dir") ?? join(root, "dist"));
    const started = performance.now();
    const { manifest } = await buildRelease({
      outDir,
      targets: selectTargets(flag("--targets")),
      version: pkg.version,
      commit,
      bun: { version: Bun.version, revision: Bun.revision, pinned: pkg.devDependencies?.bun },
      build: (target, outfile) => buildBinary({ target, outfile }, pkg.version, commit),
      progress: (line) => console.log(line),
    });
    console.log(`release ${manifest.version} (${manifest.commit}) with bun ${manifest.bun.version}: ${manifest.artifacts.length} binaries, SHA256SUMS and release.json in ${outDir} (${Math.round(performance.now() - started)} ms)`);
  } else {
    const outfile = flag("--outfile") ?? join(root, "dist", "vaulttmpfs");
    await buildBinary({ target: undefined, outfile }, pkg.version, commit);
    console.log(`built ${outfile}`);
  }
}
