/** Types shared by the request pipeline and the route handlers. */
import { rfc3339Nano } from "./gotext.ts";
import type { EmulatorState, TokenEntry } from "./state.ts";
import type { Outcome } from "./wire.ts";

/**
 * HashiCorp Vault 1.14.8 / 1.17.0 as vault-api.md describes them, or OpenBao
 * 2.6.2 as the real server answers (tests/real/DIFFERENCES.md).
 */
export type VaultVersion = "1.14.8" | "1.17.0" | "openbao-2.6.2";

export const isOpenBao = (v: VaultVersion): boolean => v.startsWith("openbao-");

/** Vault's logical operations (`header` = HEAD/OPTIONS, which no route here supports). */
export type Op = "read" | "list" | "update" | "create" | "delete" | "patch" | "header";

export interface Ctx {
  state: EmulatorState;
  version: VaultVersion;
  op: Op;
  /** Request path without the `/v1/` prefix. */
  path: string;
  /** Named captures of the route pattern. */
  params: Record<string, string>;
  /** Parsed body (or query for GET); null when empty. */
  data: Record<string, unknown> | null;
  /** The token exactly as presented (X-Vault-Token or Bearer), "" if none. */
  clientToken: string;
  /** The authenticated caller; undefined on unauthenticated routes. */
  token: TokenEntry | undefined;
  /** True when this request consumed the caller's last use. */
  lastUse: boolean;
  /** Set for sys/wrapping/{lookup,unwrap} once the wrapping token has been validated. */
  wrappingToken: TokenEntry | undefined;
  /** Requested wrap TTL in seconds (0 = no wrapping). */
  wrapTtl: number;
  /** Whether the caller may act as sudo on this path (root or an ACL `sudo` capability). */
  isSudo: boolean;
}

export type Handler = (ctx: Ctx) => Outcome;

export interface Route {
  /** Anchored pattern on the full path (without `/v1/`); named groups become params. */
  pattern: RegExp;
  /** Mount type: "token" / "system" / "ldap". */
  mount: "token" | "system" | "ldap";
  /** Unauthenticated or login path: no token check, `mount_type` "" on the response. */
  unauth?: boolean;
  /** Known body fields; others give the "Endpoint ignored these unrecognized parameters" warning. */
  fields?: readonly string[];
  /** Existence check: when present, a write is `create` if it returns false, else `update`. */
  exists?: (ctx: Ctx) => boolean;
  ops: Partial<Record<Op, Handler>>;
}

/** Mount prefixes known to the emulator's router. */
export const MOUNTS: ReadonlyArray<readonly [string, Route["mount"]]> = [
  ["auth/token/", "token"], ["auth/ldap/", "ldap"], ["sys/", "system"],
];

/** A stable per-token nanosecond component, so timestamps carry 9 digits like Go's. */
export function tokenNanos(te: TokenEntry): number {
  let h = 0;
  for (const ch of te.accessor) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000;
  return h;
}

/** The `data` of lookup / lookup-self / lookup-accessor (keys sorted on output). */
export function lookupData(state: EmulatorState, te: TokenEntry, id: string): Record<string, unknown> {
  const ns = tokenNanos(te);
  const data: Record<string, unknown> = {
    accessor: te.accessor, creation_time: Math.floor(te.creationTime / 1000), creation_ttl: Math.trunc(te.creationTtl),
    display_name: te.displayName, entity_id: te.entityId, expire_time: null, explicit_max_ttl: Math.trunc(te.explicitMaxTtl),
    id, meta: te.meta, num_uses: te.numUses, orphan: te.orphan, path: te.path, policies: te.policies, ttl: 0, type: te.type,
  };
  if (te.role !== "") data["role"] = te.role;
  // A period that came from the role's token_period is applied but not shown
  // by lookup (seen on OpenBao 2.6.2, which keeps Vault 1.14's token store).
  if (te.period !== 0 && !te.periodFromRole) data["period"] = Math.trunc(te.period);
  if (te.expireAt !== null) {
    const now = state.now();
    if (te.lastRenewal !== null) {
      data["last_renewal_time"] = Math.floor(te.lastRenewal / 1000);
      data["last_renewal"] = rfc3339Nano(te.lastRenewal, ns);
    }
    data["expire_time"] = rfc3339Nano(te.expireAt, ns);
    data["ttl"] = Math.max(0, Math.trunc((te.expireAt - now) / 1000));
    data["renewable"] = te.renewable && te.expireAt > now;
    data["issue_time"] = rfc3339Nano(te.issueTime, ns);
  }
  return data;
}
