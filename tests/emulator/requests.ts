/** The emulator's request log and the waiters of waitForRequest. */
import type { Incoming } from "./pipeline.ts";

/** One received request. `status` is 0 until answered, and stays 0 when dropped or never answered. */
export interface RequestRecord {
  method: string;
  /** Path without the `/v1/` prefix and without the query. */
  path: string;
  query: Record<string, string>;
  /** Header names lower-cased; values as received (repeated headers joined with ", "). */
  headers: Record<string, string>;
  /** Parsed JSON body, or the raw string when it is not JSON ("" when empty). */
  body: unknown;
  status: number;
  /** When the answer was written, real epoch ms; absent until then (and for dropped or held requests). */
  answeredAt?: number;
  /** Arrival time, real epoch ms. */
  at: number;
  /** The fault applied: "drop" | "hang" | "status" | "delay", or null. */
  fault: string | null;
}

/** Builds the record of a request as it arrives (before any answer). */
export function recordOf(inc: Incoming, rawHeaders: readonly string[]): RequestRecord {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? "").toLowerCase();
    const value = rawHeaders[i + 1] ?? "";
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body: unknown = inc.body;
  if (inc.body.trim() !== "") {
    try { body = JSON.parse(inc.body); } catch { /* keep the raw string */ }
  }
  let path = inc.pathname;
  try { path = decodeURIComponent(path); } catch { /* keep as received */ }
  if (path.startsWith("/v1/")) path = path.slice(4);
  return {
    method: inc.method, path, query: Object.fromEntries(inc.query), headers, body, status: 0, at: Date.now(), fault: null,
  };
}

interface Waiter {
  pred: (r: RequestRecord) => boolean;
  resolve: (r: RequestRecord) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class RequestLog {
  readonly records: RequestRecord[] = [];
  private waiters: Waiter[] = [];

  /** Appends a record and resolves the waiters whose predicate matches it. */
  add(rec: RequestRecord): void {
    this.records.push(rec);
    const matched = this.waiters.filter((w) => w.pred(rec));
    this.waiters = this.waiters.filter((w) => !matched.includes(w));
    for (const w of matched) { clearTimeout(w.timer); w.resolve(rec); }
  }

  clear(): void {
    this.records.length = 0;
  }

  /** First logged or future record matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (r: RequestRecord) => boolean, timeoutMs: number): Promise<RequestRecord> {
    const seen = this.records.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred, resolve, reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`waitForRequest: no matching request within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Rejects every pending waiter (used by stop()). */
  rejectAll(reason: string): void {
    for (const w of this.waiters) { clearTimeout(w.timer); w.reject(new Error(reason)); }
    this.waiters = [];
  }
}
