/**
 * Issue 10, item 3: every placeholder pattern in a shipped file (deploy
 * manifests, policies and their scripts) keeps tenants apart. A file
 * contradicting the README (`{namespace}-*` "isolates tenants") is copied
 * onto nodes as is, so the files themselves are checked.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ambiguousPatterns } from "../src/authz/authorize.ts";

const ROOT = join(import.meta.dir, "..");
function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesBelow(path) : [path];
  });
}

/**
 * Every word with a placeholder in it, with quoting and prose punctuation
 * taken off; lines that warn against a pattern ("never ...", "refuses ...") are
 * the exception that names it on purpose.
 */
function placeholderPatterns(text: string): string[] {
  const shown = text.split("\n").filter((line) => !/never|refuse/i.test(line)).join("\n");
  return [...shown.matchAll(/[^\s`'"(),=;]*\{(?:namespace|serviceaccount)\}[^\s`'"(),;]*/g)].map((m) => m[0].replace(/[.:]$/, ""));
}

test("no shipped file shows a pattern in which one tenant reaches another's roles or policies", () => {
  const files = [...filesBelow(join(ROOT, "deploy")), ...filesBelow(join(ROOT, "policies"))];
  const found = files.flatMap((file) => placeholderPatterns(readFileSync(file, "utf8")).map((pattern) => ({ file: file.slice(ROOT.length + 1), pattern })));
  expect(found.length).toBeGreaterThan(3); // the scan does see the examples
  expect(found.filter((f) => ambiguousPatterns([f.pattern]).length > 0)).toEqual([]);
});

test("the scan catches the hole it is for", () => {
  expect(ambiguousPatterns(placeholderPatterns("# Globs ({namespace}-* isolates tenants)."))).toEqual(["{namespace}-*"]);
});
