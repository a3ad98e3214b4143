import { closeSync, constants, fchmodSync, fstatSync, openSync, writeSync } from "node:fs";
import { scrub } from "./scrub.ts";

/**
 * Fields of one operation record. Deliberately closed: there is no field for
 * a token, the raw options JSON or a secret, so none can be logged by mistake.
 */
export interface OpRecord {
  op: string;
  result: "success" | "failure" | "not-supported" | "skipped" | "info";
  dir?: string;
  namespace?: string;
  pod?: string;
  podUid?: string;
  serviceAccount?: string;
  role?: string;
  policies?: readonly string[];
  accessor?: string;
  durationMs?: number;
  error?: string;
  errorKind?: string;
  detail?: string;
}

export interface OpLog {
  write(record: OpRecord): void;
}

/**
 * Appends one JSON line per record to `file`. Any failure is swallowed: a
 * log that cannot be written must never fail a mount or print anything.
 */
export function createOpLog(file: string | null, now: () => Date = () => new Date()): OpLog {
  return {
    write(record) {
      if (file === null) return;
      try {
        appendLine(file, `${scrub(JSON.stringify({ time: now().toISOString(), pid: process.pid, ...record }))}\n`);
      } catch {
        // deliberately silent: see above
      }
    },
  };
}

/** Group may read (an operator's log group); never others, never group write. */
const LOG_MODE = 0o640;

/**
 * One append, without following a symlink at `file` (root would write
 * wherever it points), only into a regular file, and only into our own: a
 * file another user created first (in a world-writable log dir, say) would
 * hand them every accessor and pod name, so nothing is written there. A log
 * file found with a wider mode (0666, say) is narrowed to 0640.
 */
function appendLine(file: string, line: string): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, LOG_MODE);
  try {
    const st = fstatSync(fd);
    // A second link would be another file's content (fs.protected_hardlinks=0 lets a user link root's files).
    if (!st.isFile() || st.uid !== (process.geteuid?.() ?? 0) || st.nlink !== 1) return;
    if (st.mode & 0o137) fchmodSync(fd, st.mode & LOG_MODE);
    const bytes = Buffer.from(line);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
  } finally {
    closeSync(fd);
  }
}
