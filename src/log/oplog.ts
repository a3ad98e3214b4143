import { appendFileSync } from "node:fs";
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
        appendFileSync(file, `${scrub(JSON.stringify({ time: now().toISOString(), pid: process.pid, ...record }))}\n`, { mode: 0o640 });
      } catch {
        // deliberately silent: see above
      }
    },
  };
}
