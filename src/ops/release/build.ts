import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256File } from "../install/hash.ts";
import { renderSha256Sums } from "./sums.ts";
import { BUILD_BASENAME, type ReleaseTarget } from "./targets.ts";

export interface ReleaseInputs {
  readonly outDir: string;
  readonly targets: readonly ReleaseTarget[];
  readonly version: string;
  readonly commit: string;
  /** The running Bun, and the exact version package.json pins. */
  readonly bun: { readonly version: string; readonly revision: string; readonly pinned: string | undefined };
  /** Compiles the driver for `target` to `outfile` (build.ts's `buildBinary`). */
  readonly build: (target: Bun.Build.CompileTarget, outfile: string) => Promise<void>;
  readonly progress?: (line: string) => void;
}

export interface ReleaseArtifact {
  readonly file: string;
  readonly target: string;
  readonly runsOn: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** Written as dist/release.json: everything needed to reproduce the bytes, nothing that varies between runs. */
export interface ReleaseManifest {
  readonly version: string;
  readonly commit: string;
  readonly bun: { readonly version: string; readonly revision: string };
  readonly artifacts: readonly ReleaseArtifact[];
}

/**
 * Bytecode and the embedded runtime are tied to the exact Bun version, so a
 * release built by any other Bun than the pinned one would not be the
 * release the source describes.
 */
export function checkPinnedBun(pinned: string | undefined, running: string): void {
  if (pinned === undefined || !/^\d+\.\d+\.\d+$/.test(pinned)) {
    throw new Error(`package.json must pin an exact bun version in devDependencies (e.g. "bun": "${running}"), found ${JSON.stringify(pinned)}`);
  }
  if (pinned !== running) {
    throw new Error(`this is bun ${running} but package.json pins bun ${pinned}; run the pinned one: node_modules/.bin/bun build.ts --release (after npm ci)`);
  }
}

/**
 * Builds every target, each in its own temp dir under the fixed basename and
 * then renamed into `outDir`, and writes SHA256SUMS and release.json.
 */
export async function buildRelease(inp: ReleaseInputs): Promise<{ manifest: ReleaseManifest; timingsMs: Record<string, number> }> {
  checkPinnedBun(inp.bun.pinned, inp.bun.version);
  mkdirSync(inp.outDir, { recursive: true });
  const artifacts: ReleaseArtifact[] = [];
  const timingsMs: Record<string, number> = {};
  for (const t of inp.targets) {
    const started = performance.now();
    await buildOne(inp, t);
    timingsMs[t.file] = Math.round(performance.now() - started);
    const { sha256, bytes } = sha256File(join(inp.outDir, t.file));
    artifacts.push({ file: t.file, target: t.target, runsOn: t.runsOn, bytes, sha256 });
    inp.progress?.(`built ${t.file} (${t.target}) ${bytes} bytes in ${timingsMs[t.file]} ms`);
  }
  const manifest: ReleaseManifest = { version: inp.version, commit: inp.commit, bun: { version: inp.bun.version, revision: inp.bun.revision }, artifacts };
  writeFileSync(join(inp.outDir, "SHA256SUMS"), renderSha256Sums(artifacts));
  writeFileSync(join(inp.outDir, "release.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, timingsMs };
}

async function buildOne(inp: ReleaseInputs, t: ReleaseTarget): Promise<void> {
  // A dot-dir inside outDir: same filesystem, so the rename is atomic; removed whatever happens.
  const temp = mkdtempSync(join(inp.outDir, `.build-${t.file}-`));
  try {
    const outfile = join(temp, BUILD_BASENAME);
    await inp.build(t.target, outfile);
    if (!statSync(outfile).isFile()) throw new Error(`bun produced no ${outfile} for ${t.target}`);
    renameSync(outfile, join(inp.outDir, t.file));
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
