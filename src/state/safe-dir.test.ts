import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileNoFollow, stateTreeProblems, unsafeDirReason } from "./safe-dir.ts";
import { entryKeyProblem } from "./entry-check.ts";
import { parseEntry } from "./journal.ts";

const root = mkdtempSync(join(tmpdir(), "safe-dir-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const asRoot = process.geteuid?.() === 0;

test("a fresh 0700 dir of ours is safe; its missing subdirs are not a problem", () => {
  const d = join(root, "ok");
  mkdirSync(d, { mode: 0o700 });
  expect(stateTreeProblems(d)).toEqual([]);
});

test("symlink, non-dir, group/other write are refused with the fix", () => {
  const target = join(root, "t");
  mkdirSync(target, { mode: 0o700 });
  symlinkSync(target, join(root, "link"));
  expect(unsafeDirReason(join(root, "link"))).toContain("is a symlink");
  writeFileSync(join(root, "file"), "");
  expect(unsafeDirReason(join(root, "file"))).toContain("is not a directory");
  const open = join(root, "open");
  mkdirSync(open);
  chmodSync(open, 0o775);
  expect(unsafeDirReason(open)).toBe(`${open} is mode 0775, writable by group or others (chmod go-w ${open})`);
});

test.if(asRoot)("owned by another uid is refused", () => {
  const d = join(root, "theirs");
  mkdirSync(d, { mode: 0o700 });
  chownSync(d, 65534, 65534);
  expect(unsafeDirReason(d)).toContain("belongs to uid 65534");
});

test("a parent writable by others without the sticky bit is a problem; with it (like /tmp) it is not", () => {
  const parent = join(root, "parent");
  mkdirSync(parent);
  chmodSync(parent, 0o777);
  mkdirSync(join(parent, "state"), { mode: 0o700 });
  expect(stateTreeProblems(join(parent, "state"))[0]).toContain("a parent of the state dir");
  chmodSync(parent, 0o1777);
  expect(stateTreeProblems(join(parent, "state"))).toEqual([]);
});

test("readFileNoFollow reads a file and refuses a link to one", () => {
  writeFileSync(join(root, "real"), "data");
  symlinkSync(join(root, "real"), join(root, "real-link"));
  expect(readFileNoFollow(join(root, "real"))).toBe("data");
  expect(() => readFileNoFollow(join(root, "real-link"))).toThrow(/ELOOP|symbolic/);
});

test("a journal entry must name its own key and that key's kubelet path", () => {
  const key = { podUid: "u1", volumeName: "vault" };
  const entry = (over: Record<string, unknown>) => parseEntry(JSON.stringify({ version: 1, podUid: "u1", volumeName: "vault", accessor: "a", dir: "/var/lib/kubelet/pods/u1/volumes/cloudwatt~vaulttmpfs/vault", ...over }));
  expect(entryKeyProblem(entry({}), key)).toBeUndefined();
  expect(entryKeyProblem(entry({ podUid: "u2" }), key)).toContain("names volume u2_vault");
  expect(entryKeyProblem(entry({ dir: "/var/lib/kubelet/pods/u2/volumes/cloudwatt~vaulttmpfs/vault" }), key)).toContain("is not the path of volume u1_vault");
  expect(entryKeyProblem(entry({ dir: "/etc" }), key)).toContain("is not a kubelet volume path");
  expect(entryKeyProblem(entry({ dir: "" }), key)).toContain("is not a kubelet volume path");
});
