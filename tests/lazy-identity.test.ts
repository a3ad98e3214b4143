/**
 * Token-role mounts must not pay for pod identity mode: the kube client and
 * the login flow are imported lazily. Bundled the way build.ts does it
 * (splitting, ESM, target bun, unminified here so names can be found), the
 * chunk holding `mountCommand` and everything it imports statically must not
 * contain the TokenRequest client; only a dynamic import may reach it.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const out = mkdtempSync(join(tmpdir(), "vaulttmpfs-split-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test("the mount command's static import graph holds no pod identity code; a dynamic import does", async () => {
  const result = await Bun.build({ entrypoints: [join(import.meta.dir, "..", "src", "main.ts")], splitting: true, format: "esm", target: "bun", outdir: out });
  expect(result.success).toBe(true);
  const text = new Map(result.outputs.map((o) => [basename(o.path), readFileSync(o.path, "utf8")]));
  const staticImports = (name: string) => [...(text.get(name) ?? "").matchAll(/from "\.\/([^"]+\.js)"/g)].map((m) => m[1]!);
  const closure = (start: string) => {
    const seen = new Set<string>();
    const todo = [start];
    while (todo.length) {
      const n = todo.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      todo.push(...staticImports(n));
    }
    return seen;
  };
  const mountChunk = [...text].find(([, t]) => t.includes("async function mountCommand("))?.[0];
  const kubeChunk = [...text].find(([, t]) => t.includes("async function requestPodToken("))?.[0];
  expect(mountChunk).toBeDefined();
  expect(kubeChunk).toBeDefined();
  expect(closure(mountChunk!).has(kubeChunk!)).toBe(false);
  expect([...closure(mountChunk!)].some((n) => /async function obtainPodToken\(|async function loginPodToken\(/.test(text.get(n)!))).toBe(false);
  // ...but the mount path can still reach it, through import().
  expect(text.get(mountChunk!)).toMatch(/import\("\.\/chunk-[^"]+\.js"\)/);
}, 30_000);
