/** Direct state setup used by VaultEmulator.createToken (no HTTP, no ACL). */
import { sanitizePolicies } from "./policy.ts";
import type { EmulatorState, TokenEntry } from "./state.ts";
import { calculateTtl } from "./token-create.ts";

export interface CreateTokenOptions {
  /** Token policies; `default` is added (unless `root` is present, which collapses the list to ["root"]). */
  policies: string[];
  /** Period in seconds: the TTL is the period and every renew-self resets it. */
  period?: number;
  /** TTL in seconds; default 2764800 (32 days) for non-root tokens, none for root tokens. */
  ttl?: number;
  /** Default true (forced false for tokens that never expire). */
  renewable?: boolean;
  /** Default false: the token is a child of the root token (path auth/token/create). */
  orphan?: boolean;
  meta?: Record<string, string>;
  /** Munged like Vault: "token-<name>" with [^a-zA-Z0-9-] → "-"; default "token". */
  displayName?: string;
  /** 0 = unlimited (default). */
  numUses?: number;
  explicitMaxTtl?: number;
}

/** Creates a token the way a root caller's auth/token/create would (TTL rules included). */
export function createTestToken(state: EmulatorState, o: CreateTokenOptions): TokenEntry {
  const policies = sanitizePolicies(o.policies, true);
  const period = o.period ?? 0;
  const explicitMax = o.explicitMaxTtl ?? 0;
  let ttl = o.ttl ?? 0;
  if (period > 0 || ttl > 0 || !policies.includes("root")) {
    const now = state.now();
    ttl = calculateTtl({ increment: 0, backendTtl: ttl, period, backendMaxTtl: 0, explicitMaxTtl: explicitMax, startMs: now, nowMs: now }).ttl;
  }
  if (ttl === 0 && explicitMax > 0) ttl = explicitMax;
  const orphan = o.orphan ?? false;
  const displayName = o.displayName
    ? `token-${o.displayName}`.replace(/[^a-zA-Z0-9-]/g, "-").replace(/-$/, "")
    : "token";
  return state.insert({
    policies, path: orphan ? "auth/token/create-orphan" : "auth/token/create", displayName,
    meta: o.meta ?? null, orphan, renewable: ttl > 0 && (o.renewable ?? true), period, ttl,
    explicitMaxTtl: explicitMax, numUses: o.numUses ?? 0,
    parentAccessor: orphan ? "" : state.root.accessor,
  });
}
