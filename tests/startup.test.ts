/**
 * The kubelet path loads only what it uses: `mount` and `unmount` run
 * main.ts, then run.ts's chunk and what that imports statically. Operator
 * commands (terminals, hashing, doctor, release) are reached only through
 * dynamic import() in cli.ts, and node:crypto only for mTLS. Checked on the
 * bundle build.ts makes (same splitting), without the compile step.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("mount/unmount's module graph has no node:crypto, node:tty, node:readline nor operator code", async () => {
  const outdir = mkdtempSync(join(tmpdir(), "vaulttmpfs-chunks-"));
  try {
    const result = await Bun.build({ entrypoints: [join(import.meta.dir, "..", "src", "main.ts")], outdir, splitting: true, format: "esm", target: "bun", minify: false });
    expect(result.success).toBe(true);
    const chunks = new Map<string, string>();
    for (const o of result.outputs) chunks.set(`./${o.path.split("/").pop()}`, await o.text());
    const staticImports = (text: string) => [...text.matchAll(/^import[^;]*?from\s*"([^"]+)"/gm)].map((m) => m[1]!);
    const dynamicImports = (text: string) => [...text.matchAll(/import\("([^"]+)"\)/g)].map((m) => m[1]!);
    const main = chunks.get("./main.js")!;
    // main.ts: `init` answers from here; every other call imports run.ts, the one dynamic import of main.
    expect(dynamicImports(main)).toHaveLength(1);
    const loaded = new Set<string>();
    const visit = (name: string) => {
      if (loaded.has(name)) return;
      loaded.add(name);
      const text = chunks.get(name);
      for (const dep of text ? staticImports(text) : []) visit(dep);
    };
    visit("./main.js");
    visit(dynamicImports(main)[0]!);
    const modules = [...loaded];
    for (const banned of ["crypto", "node:crypto", "tty", "node:tty", "readline", "node:readline", "zlib"]) expect(modules).not.toContain(banned);
    // The bundler heads each module's code with a `// src/...` comment.
    const sources = modules.flatMap((m) => [...(chunks.get(m) ?? "").matchAll(/^\/\/ (src\/\S+\.ts)$/gm)].map((x) => x[1]!));
    expect(sources).toContain("src/commands/mount.ts");
    expect(sources).toContain("src/commands/unmount.ts");
    // ops/flags.ts (flag checks for the command table, no imports) is the one operator module cli.ts loads eagerly.
    const operatorCode = sources.filter((s) => (s.startsWith("src/ops/") && s !== "src/ops/flags.ts") || /^src\/commands\/(agent|bootstrap|doctor|gc|install|renew-token)\.ts$/.test(s));
    expect(operatorCode).toEqual([]);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
