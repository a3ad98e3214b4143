import { closeSync, constants, fstatSync, openSync, statSync } from "node:fs";
import { StateError } from "../errors.ts";
import { loadLibc } from "../os/libc.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

type FlockFn = (fd: number, op: number) => number;

/**
 * flock(2) from libc. Chosen over lock files with PIDs because the kernel
 * drops the lock when the holder dies, even by SIGKILL, so a killed driver
 * can never wedge the node.
 */
function flock(): FlockFn {
  const libc = loadLibc();
  if (!libc) throw new StateError("cannot load flock(2) from libc");
  return libc.flock;
}

/**
 * O_NOFOLLOW: a symlink planted in locks/ must not make root create or lock a
 * file elsewhere. On a read-only state dir an existing lock file is opened
 * read-only (flock needs no write access), so an unmount can still tear its
 * volume down under the lock.
 */
function openLockFile(path: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EROFS") throw err;
    return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  }
}

export interface Lock {
  release(): void;
}

/**
 * Takes the lock without waiting; `undefined` when someone else holds it.
 * After flock succeeds, checks that the path still names the locked inode:
 * gc may unlink an idle lock file between our open and our flock, and a lock
 * on an unlinked inode would exclude nobody.
 */
export function tryLock(path: string, testHooks: { afterOpen?: () => void } = {}): Lock | undefined {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openLockFile(path);
    } catch (err) {
      throw new StateError(`cannot open lock ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    testHooks.afterOpen?.();
    if (flock()(fd, LOCK_EX | LOCK_NB) !== 0) {
      closeSync(fd);
      return undefined;
    }
    if (sameInode(fd, path)) return heldLock(fd);
    flock()(fd, LOCK_UN);
    closeSync(fd);
  }
  throw new StateError(`lock ${path} keeps being replaced`);
}

/** True while `path` still names the inode open as `fd`. */
export function sameInode(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

function heldLock(fd: number): Lock {
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      flock()(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}

/** Waits (polling, so the event loop keeps running) up to `timeoutMs` for the lock. */
export async function acquireLock(path: string, timeoutMs: number): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    const lock = tryLock(path);
    if (lock) return lock;
    if (Date.now() >= deadline) throw new StateError(`timed out after ${timeoutMs / 1000}s waiting for lock ${path}`);
    await Bun.sleep(wait);
  }
}
