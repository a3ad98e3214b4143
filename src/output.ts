import { writeSync } from "node:fs";

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

/**
 * For kubelet calls: the kubelet parses stdout+stderr as ONE JSON value, so
 * anything else that would print (a library warning, a stray console call)
 * is dropped.
 */
export function silenceStrayOutput(): void {
  const noop = () => {};
  for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) console[method] = noop;
  process.emitWarning = noop as typeof process.emitWarning;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
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
