import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { buildRelease, checkPinnedBun } from "./build.ts";
import { parseSha256Sums, renderSha256Sums } from "./sums.ts";
import { RELEASE_TARGETS, selectTargets } from "./targets.ts";

const tmp = mkdtempSync(join(tmpdir(), "vaulttmpfs-release-unit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const bun = { version: "1.4.5", revision: "abc", pinned: "1.4.5" };

describe("checkPinnedBun", () => {
  test("passes only for the exact pinned version", () => {
    expect(() => checkPinnedBun("1.4.5", "1.4.5")).not.toThrow();
    expect(() => checkPinnedBun("1.4.5", "1.4.6")).toThrow("this is bun 1.4.6 but package.json pins bun 1.4.5");
    expect(() => checkPinnedBun("^1.4.5", "1.4.5")).toThrow("must pin an exact bun version");
    expect(() => checkPinnedBun(undefined, "1.4.5")).toThrow("must pin an exact bun version");
  });
});

describe("buildRelease", () => {
  test("builds every target under the fixed basename, renames it, writes SHA256SUMS and release.json", async () => {
    const out = join(tmp, "ok");
    const seen: string[] = [];
    const { manifest } = await buildRelease({
      outDir: out, targets: RELEASE_TARGETS, version: "9.9.9", commit: "c0ffee", bun,
      build: async (target, outfile) => {
        seen.push(basename(outfile));
        writeFileSync(outfile, `binary for ${target}`);
      },
    });
    expect(seen).toEqual(["vaulttmpfs", "vaulttmpfs", "vaulttmpfs", "vaulttmpfs"]);
    expect(readdirSync(out).sort()).toEqual(["SHA256SUMS", "release.json", ...RELEASE_TARGETS.map((t) => t.file)].sort());
    expect(readFileSync(join(out, "vaulttmpfs-linux-arm64-musl"), "utf8")).toBe("binary for bun-linux-arm64-musl");
    const sums = parseSha256Sums(readFileSync(join(out, "SHA256SUMS"), "utf8"));
    expect(sums.get("vaulttmpfs-linux-x64")).toBe(new Bun.CryptoHasher("sha256").update("binary for bun-linux-x64").digest("hex"));
    expect(JSON.parse(readFileSync(join(out, "release.json"), "utf8"))).toEqual(manifest);
    expect(manifest).toMatchObject({ version: "9.9.9", commit: "c0ffee", bun: { version: "1.4.5", revision: "abc" } });
  });

  test("a failed target leaves no temp dir and no SHA256SUMS", async () => {
    const out = join(tmp, "fail");
    const run = buildRelease({
      outDir: out, targets: RELEASE_TARGETS, version: "1", commit: "c", bun,
      build: async (target, outfile) => {
        if (target === "bun-linux-arm64") throw new Error("download failed");
        writeFileSync(outfile, "x");
      },
    });
    expect(run).rejects.toThrow("download failed");
    await run.catch(() => {});
    expect(readdirSync(out)).toEqual(["vaulttmpfs-linux-x64"]);
    expect(existsSync(join(out, "SHA256SUMS"))).toBe(false);
  });

  test("refuses to start with the wrong Bun", async () => {
    const build = async () => {
      throw new Error("must not build");
    };
    expect(buildRelease({ outDir: join(tmp, "wrong"), targets: RELEASE_TARGETS, version: "1", commit: "c", bun: { ...bun, version: "1.3.14" }, build })).rejects.toThrow("pins bun 1.4.5");
  });
});

describe("targets and sums", () => {
  test("selectTargets by short name; unknown names are refused", () => {
    expect(selectTargets(undefined)).toHaveLength(4);
    expect(selectTargets("linux-arm64-musl, linux-x64").map((t) => t.target)).toEqual(["bun-linux-x64", "bun-linux-arm64-musl"]);
    expect(() => selectTargets("linux-riscv64")).toThrow(`unknown "linux-riscv64"; choose from linux-x64, linux-arm64, linux-x64-musl, linux-arm64-musl`);
    expect(() => selectTargets("")).toThrow("unknown");
  });

  test("sha256sum format round-trips, sorted by name; malformed lines are refused", () => {
    const a = { file: "b", sha256: "1".repeat(64) };
    const b = { file: "a", sha256: "2".repeat(64) };
    const text = renderSha256Sums([a, b]);
    expect(text).toBe(`${"2".repeat(64)}  a\n${"1".repeat(64)}  b\n`);
    expect([...parseSha256Sums(text)]).toEqual([["a", "2".repeat(64)], ["b", "1".repeat(64)]]);
    expect(() => parseSha256Sums("nope  a\n")).toThrow("not a sha256sum line");
  });
});
