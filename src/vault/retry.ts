/**
 * The retry ladder of HashiCorp's Go client, as a pure function: retry
 * transport errors, 412, 429 and every 5xx but 501, with linear jittered
 * backoff (1–1.5 s × attempt), honouring `Retry-After` on 429/503.
 */

export const DEFAULT_RETRY = Object.freeze({ minWaitMs: 1000, maxWaitMs: 1500 });

export type Outcome =
  | { readonly kind: "status"; readonly status: number; readonly retryAfterMs?: number | undefined }
  | { readonly kind: "network" }
  | { readonly kind: "tls" }
  | { readonly kind: "aborted" };

export interface RetryInput {
  readonly outcome: Outcome;
  /** 0 for the first attempt. */
  readonly attempt: number;
  readonly maxRetries: number;
  /** Milliseconds left before the call's deadline; `null` = no deadline. */
  readonly remainingMs: number | null;
  readonly random?: () => number;
}

export function isRetryableStatus(status: number): boolean {
  return status === 412 || status === 429 || (status >= 500 && status !== 501);
}

/** Delay in ms before the next attempt, or `undefined` to give up. */
export function retryDelay({ outcome, attempt, maxRetries, remainingMs, random = Math.random }: RetryInput): number | undefined {
  if (attempt >= maxRetries) return undefined;
  if (outcome.kind === "tls" || outcome.kind === "aborted") return undefined;
  if (outcome.kind === "status" && !isRetryableStatus(outcome.status)) return undefined;
  const { minWaitMs, maxWaitMs } = DEFAULT_RETRY;
  let delay = (minWaitMs + random() * (maxWaitMs - minWaitMs)) * (attempt + 1);
  if (outcome.kind === "status" && (outcome.status === 429 || outcome.status === 503) && outcome.retryAfterMs !== undefined) {
    delay = outcome.retryAfterMs;
  }
  // A wait that would outlast the deadline only turns a clear error into a timeout.
  if (remainingMs !== null && delay >= remainingMs) return undefined;
  return Math.round(delay);
}

/** `Retry-After` as integer seconds or an HTTP date; `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
