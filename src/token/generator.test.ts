import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readNodeToken } from "./generator.ts";

const dir = mkdtempSync(join(tmpdir(), "vaulttmpfs-nodetoken-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the node token file's messages name the file of the node's mode and the command that makes it", () => {
  test("a missing file: the generator in token-role mode, the revoke-only token in pod identity mode", () => {
    const path = join(dir, "missing");
    expect(() => readNodeToken({ path, kind: "generator" })).toThrow(`cannot read the generator token ${path} (ENOENT); create it with "vaulttmpfs bootstrap"`);
    expect(() => readNodeToken({ path, kind: "revoke-only" })).toThrow(`cannot read the revoke-only token ${path} (ENOENT); create it with "vaulttmpfs bootstrap --revoke-only"`);
  });

  test("a file others can read is refused, with the fix for its own kind", () => {
    const path = join(dir, "open");
    writeFileSync(path, "s.abcdefghijklmnopqrstuvwx\n");
    chmodSync(path, 0o644);
    expect(() => readNodeToken({ path, kind: "revoke-only" })).toThrow(`the revoke-only token ${path} is mode 0644, open to every user on the node; refusing to use it (chmod 0600 ${path}, then consider it leaked: vaulttmpfs bootstrap --revoke-only --force)`);
    chmodSync(path, 0o600);
    expect(readNodeToken({ path, kind: "revoke-only" })).toBe("s.abcdefghijklmnopqrstuvwx");
  });

  test("an empty file", () => {
    const path = join(dir, "empty");
    writeFileSync(path, "\n", { mode: 0o600 });
    expect(() => readNodeToken({ path, kind: "generator" })).toThrow(`the generator token file ${path} is empty; run "vaulttmpfs bootstrap"`);
  });
});
