import { closeSync, openSync, writeSync } from "node:fs";
import { loadLibc } from "./os/libc.ts";

/**
 * The one place that writes to the process's stdout and stderr. Writes are
 * synchronous so nothing is lost or cut at exit (Bun truncates a pending
 * async stdout write at 64 KiB when the process exits).
 */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let off = 0; off < bytes.length; ) {
    try {
      off += writeSync(fd, bytes, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
    }
  }
}

export const processOutput: Output = {
  out: (text) => writeAll(1, text),
  err: (text) => writeAll(2, text),
};

const F_DUPFD_CLOEXEC = 1030;

/**
 * For kubelet calls: the kubelet parses stdout+stderr as ONE JSON value. The
 * real stdout moves to a private close-on-exec fd that only the returned
 * Output writes to, and fds 1 and 2 become /dev/null, so nothing else can
 * reach the kubelet: not a stray console call, not a warning, not Bun's own
 * printer of an error the crash handler did not see, not a child. A few
 * syscalls (~0.3 ms with the dlopen); replacing process.stdout/stderr.write
 * instead cost ~2 ms a call, the time Bun takes to create those two streams
 * (150 interleaved runs of small compiled programs).
 * Without libc (never seen), console and warnings are silenced instead.
 */
export function captureStdio(): Output {
  const libc = loadLibc();
  const saved = libc ? libc.fcntl(1, F_DUPFD_CLOEXEC, 3) : -1;
  if (libc && saved >= 0) {
    const devNull = openSync("/dev/null", "w");
    libc.dup2(devNull, 1);
    libc.dup2(devNull, 2);
    closeSync(devNull);
    return { out: (text) => writeAll(saved, text), err: () => {} };
  }
  const noop = () => {};
  for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) console[method] = noop;
  process.emitWarning = noop as typeof process.emitWarning;
  return { out: (text) => writeAll(1, text), err: noop };
}

/** Lets only the first `out` through, so a crash handler racing the normal path cannot add a second JSON object. */
export function firstWriteOnly(output: Output): Output & { written(): string | undefined } {
  let written: string | undefined;
  return {
    out(text) {
      if (written !== undefined) return;
      written = text;
      output.out(text);
    },
    err() {},
    written: () => written,
  };
}
