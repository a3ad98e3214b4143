/** One release binary: the file name users download and the Bun target that builds it. */
export interface ReleaseTarget {
  readonly file: string;
  readonly target: Bun.Build.CompileTarget;
  /** What the node needs to run it; printed in docs and release.json. */
  readonly runsOn: string;
}

/**
 * glibc and musl builds for both architectures. In Bun 1.4.5 `bun-linux-x64`
 * is already the baseline build (x86-64-v2), so there is no separate
 * `-baseline` file. Order matters only for output: SHA256SUMS is sorted.
 */
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { file: "vaulttmpfs-linux-x64", target: "bun-linux-x64", runsOn: "x86-64-v2, glibc >= 2.17" },
  { file: "vaulttmpfs-linux-arm64", target: "bun-linux-arm64", runsOn: "arm64, glibc >= 2.17" },
  { file: "vaulttmpfs-linux-x64-musl", target: "bun-linux-x64-musl", runsOn: "x86-64-v2, musl with libstdc++ and libgcc" },
  { file: "vaulttmpfs-linux-arm64-musl", target: "bun-linux-arm64-musl", runsOn: "arm64, musl with libstdc++ and libgcc" },
];

/**
 * The basename every target is built under. Bun embeds it as
 * `/$bunfs/root/<basename>`, so building each target as `vaulttmpfs` in a
 * temp dir (then renaming) keeps the bytes independent of the output name and
 * identical to a host build of `dist/vaulttmpfs`.
 */
export const BUILD_BASENAME = "vaulttmpfs";

/** `--targets linux-x64,linux-arm64-musl` (file names without the `vaulttmpfs-` prefix); all when absent. */
export function selectTargets(list: string | undefined): readonly ReleaseTarget[] {
  if (list === undefined) return RELEASE_TARGETS;
  const wanted = list.split(",").map((s) => s.trim()).filter(Boolean);
  const known = RELEASE_TARGETS.map((t) => t.file.replace(/^vaulttmpfs-/, ""));
  const unknown = wanted.filter((w) => !known.includes(w));
  if (wanted.length === 0 || unknown.length > 0) throw new Error(`--targets: unknown ${JSON.stringify(unknown.join(","))}; choose from ${known.join(", ")}`);
  return RELEASE_TARGETS.filter((t) => wanted.includes(t.file.replace(/^vaulttmpfs-/, "")));
}
