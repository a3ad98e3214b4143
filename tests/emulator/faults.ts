/**
 * Fault injection: rules matched in insertion order (first match wins; a rule with `times`
 * is consumed and disappears when used up), and the set of hung requests.
 */

export interface FaultRule {
  /** HTTP method to match (case-insensitive); any when absent. */
  method?: string;
  /** Request path without `/v1/` (a leading `/v1/` or `/` in a string is ignored), or a RegExp tested on it. */
  path?: string | RegExp;
  /** Number of requests this rule applies to; unlimited when absent. */
  times?: number;
  /** Answer with this status (default 500 when `errors` or `body` is given). */
  status?: number;
  /** Answer with `{"errors":[...]}` (Go encoder format). */
  errors?: string[];
  /** Answer with this raw body instead of an errors body. */
  body?: string;
  /** Extra response headers (on the fault answer, or on the real answer when the rule does not answer). */
  headers?: Record<string, string>;
  /** Wait this long first (then answer, drop, hang, or go on to the real handler). */
  delayMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** Never answer until stop() or releaseHung() (which lets the request go on to the real handler). */
  hang?: boolean;
  /** With `hang`: process the request on release even if its client has gone (the handler had already started). */
  completeAfterDisconnect?: boolean;
}

interface StoredRule {
  rule: FaultRule;
  remaining: number;
}

function normalizePath(p: string): string {
  if (p.startsWith("/v1/")) return p.slice(4);
  if (p.startsWith("v1/")) return p.slice(3);
  return p.startsWith("/") ? p.slice(1) : p;
}

export class FaultSet {
  private rules: StoredRule[] = [];

  add(rule: FaultRule): void {
    const remaining = rule.times ?? Number.POSITIVE_INFINITY;
    if (remaining > 0) this.rules.push({ rule: { ...rule }, remaining });
  }

  clear(): void {
    this.rules = [];
  }

  /** The first rule matching the request, consuming one of its `times`. */
  take(method: string, path: string): FaultRule | undefined {
    const idx = this.rules.findIndex(({ rule }) => {
      if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) return false;
      if (rule.path === undefined) return true;
      if (typeof rule.path === "string") return normalizePath(rule.path) === path;
      rule.path.lastIndex = 0;
      return rule.path.test(path);
    });
    const hit = this.rules[idx];
    if (hit === undefined) return undefined;
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.rules.splice(idx, 1);
    return hit.rule;
  }
}

/** Whether a rule answers by itself (as opposed to only delaying or adding headers). */
export function answers(rule: FaultRule): boolean {
  return rule.status !== undefined || rule.errors !== undefined || rule.body !== undefined;
}

export type HangEnd = "release" | "stop" | "cancelled";

/** Requests held by `hang` rules. */
export class HangSet {
  private readonly waiting = new Set<(end: HangEnd) => void>();

  /** Held until release()/stop(); `cancel` (the client went away) ends just this hold. */
  hold(): { ended: Promise<HangEnd>; cancel: () => void } {
    let done: (end: HangEnd) => void = () => {};
    const ended = new Promise<HangEnd>((resolve) => {
      done = resolve;
      this.waiting.add(resolve);
    });
    return {
      ended,
      cancel: () => {
        if (this.waiting.delete(done)) done("cancelled");
      },
    };
  }

  get size(): number {
    return this.waiting.size;
  }

  private finish(end: HangEnd): void {
    const all = [...this.waiting];
    this.waiting.clear();
    for (const resolve of all) resolve(end);
  }

  release(): void {
    this.finish("release");
  }

  stop(): void {
    this.finish("stop");
  }
}
