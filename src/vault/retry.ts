/**
 * The retry ladder of HashiCorp's Go client, as a pure function: retry
 * transport errors, 412, 429 and every 5xx but 501, with linear jittered
 * backoff (1–1.5 s × attempt), honouring `Retry-After` on 429/503.
 *
 * One departure: a call that is not idempotent (token create) is retried only
 * when Vault cannot have acted on it: the connection never opened, or Vault
 * itself (its JSON error body, not a proxy's) said it did not process it
 * (412, 429, 503). Retrying after a 500, a reset or
 * a cut-off body could mint a second token nobody knows about.
 */

export const DEFAULT_RETRY = Object.freeze({ minWaitMs: 1000, maxWaitMs: 1500 });

export type Outcome =
  | {
      readonly kind: "status";
      readonly status: number;
      readonly retryAfterMs?: number | undefined;
      /** The body was Vault's `{"errors":[...]}`, not a proxy's page (Envoy answers 503 after forwarding). */
      readonly fromVault?: boolean;
    }
  /** The request may have reached Vault (reset, cut-off body). */
  | { readonly kind: "network" }
  /** The connection never opened (refused, DNS): Vault saw nothing. */
  | { readonly kind: "connect" }
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
  /** Default true. False for calls that create something (token create). */
  readonly idempotent?: boolean;
}

export function isRetryableStatus(status: number): boolean {
  return status === 412 || status === 429 || (status >= 500 && status !== 501);
}

/** Delay in ms before the next attempt, or `undefined` to give up. */
/** Statuses with which Vault (or the proxy in front) says it did not process the request. */
const NOT_PROCESSED = new Set([412, 429, 503]);

export function retryDelay({ outcome, attempt, maxRetries, remainingMs, random = Math.random, idempotent = true }: RetryInput): number | undefined {
  if (attempt >= maxRetries) return undefined;
  if (outcome.kind === "tls" || outcome.kind === "aborted") return undefined;
  if (outcome.kind === "status" && !isRetryableStatus(outcome.status)) return undefined;
  if (!idempotent && outcome.kind === "network") return undefined;
  if (!idempotent && outcome.kind === "status" && !(NOT_PROCESSED.has(outcome.status) && outcome.fromVault)) return undefined;
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
