import { expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock, sameInode, tryLock } from "./lock.ts";

const dir = mkdtempSync(join(tmpdir(), "vaulttmpfs-lock-"));

test("one holder at a time; released locks can be taken again", async () => {
  const path = join(dir, "a.lock");
  const first = tryLock(path)!;
  expect(first).toBeDefined();
  expect(tryLock(path)).toBeUndefined();
  await expect(acquireLock(path, 50)).rejects.toThrow("timed out after 0.05s waiting for lock");
  first.release();
  first.release(); // idempotent
  const second = tryLock(path);
  expect(second).toBeDefined();
  second!.release();
});

test("the race gc's pruning opens: a lock taken on an inode that was unlinked meanwhile is detected", () => {
  const path = join(dir, "b.lock");
  const racer = openSync(path, "a", 0o600); // a mount opened the file...
  const pruner = tryLock(path)!; // ...gc takes the idle lock, unlinks the file, releases
  unlinkSync(path);
  pruner.release();
  expect(sameInode(racer, path)).toBe(false); // the racer's flock would hold an orphan: tryLock reopens instead
  closeSync(racer);
  const fresh = tryLock(path)!;
  expect(tryLock(path)).toBeUndefined();
  fresh.release();
});

test("a lock whose file is unlinked between open and flock is retaken on a file that is still there", () => {
  const path = join(dir, "c.lock");
  let unlinked = false;
  const lock = tryLock(path, {
    afterOpen: () => {
      if (unlinked) return;
      unlinked = true;
      unlinkSync(path); // gc prunes the idle lock right after our open
    },
  })!;
  expect(unlinked).toBe(true);
  // Without the inode check this lock would sit on the unlinked inode and exclude nobody.
  expect(existsSync(path)).toBe(true);
  expect(tryLock(path)).toBeUndefined();
  lock.release();
});
