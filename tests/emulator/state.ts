/**
 * Emulator state: the token store (ids, accessors, parent/child links, expiry on the
 * emulator clock, use counts), roles, policies and LDAP users.
 *
 * Revocation follows Vault: revoking (or expiring, or using up) a token revokes its
 * non-orphan children, recursively. Expired tokens are swept lazily on every access.
 */
import { BUILTIN_POLICIES, sanitizePolicies, type PolicyRule } from "./policy.ts";
import { MAX_LEASE_TTL, type RoleEntry } from "./roles.ts";

/** Data kept for a response-wrapping token. */
export interface WrappedData {
  /** The original response JSON, exactly as unwrap will return it. */
  response: string;
  creationPath: string;
  /** RFC3339Nano, as shown by sys/wrapping/lookup. */
  creationTime: string;
  /** Wrap TTL in seconds (may be fractional). */
  ttl: number;
}

/** A token as stored by the emulator. Times are emulator-clock epoch ms; durations are seconds. */
export interface TokenEntry {
  id: string;
  accessor: string;
  /** Sorted token policies (with `default` unless excluded). */
  policies: string[];
  meta: Record<string, string> | null;
  displayName: string;
  path: string;
  /** Role name, "" when not created against a role. */
  role: string;
  orphan: boolean;
  renewable: boolean;
  /** Effective period in seconds (0 = not periodic). */
  period: number;
  /** The period is the role's token_period, not the request's: lookup does not show it. */
  periodFromRole?: boolean;
  /** TTL granted by the last create or renew (seconds). */
  ttl: number;
  /** TTL granted at creation (lookup's creation_ttl). */
  creationTtl: number;
  /** explicit_max_ttl given in the create request (lookup shows this one). */
  explicitMaxTtl: number;
  /** Effective explicit max TTL (request and role combined) used to cap renewals. */
  effectiveExplicitMaxTtl: number;
  /** Expiry (ms), or null when the token never expires. */
  expireAt: number | null;
  creationTime: number;
  issueTime: number;
  lastRenewal: number | null;
  /** Remaining uses; 0 = unlimited. */
  numUses: number;
  /** Accessor of the parent token, "" for orphans. */
  parentAccessor: string;
  type: "service";
  entityId: string;
  isWrapping: boolean;
  wrapped?: WrappedData;
}

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** n random base62 characters (rejection sampling, no modulo bias). */
export function base62(n: number): string {
  let out = "";
  while (out.length < n) {
    for (const b of crypto.getRandomValues(new Uint8Array(n * 2))) {
      if (b < 248 && out.length < n) out += BASE62[b % 62];
    }
  }
  return out;
}

export interface LdapUser {
  password: string;
  policies: string[];
  entityId: string;
}

export class EmulatorState {
  readonly tokens = new Map<string, TokenEntry>();
  private readonly byAccessor = new Map<string, string>();
  readonly roles = new Map<string, RoleEntry>();
  readonly policies = new Map<string, PolicyRule[]>(Object.entries(BUILTIN_POLICIES));
  readonly ldapUsers = new Map<string, LdapUser>();
  readonly entityIds = new Map<string, string>();
  readonly clusterName = `vault-cluster-${base62(8).toLowerCase()}`;
  readonly clusterId = crypto.randomUUID();
  sealed = false;
  standby = false;
  private offsetMs = 0;
  readonly root: TokenEntry;

  /**
   * "hvs." (Vault ≥ 1.10) or "s." (OpenBao, whose server-side consistent
   * tokens are off by default, so service tokens keep the legacy prefix).
   */
  constructor(readonly tokenPrefix: "hvs." | "s." = "hvs.") {
    this.root = this.insert({
      policies: ["root"], path: "auth/token/root", displayName: "root", orphan: true, ttl: 0,
      renewable: false, parentAccessor: "",
    });
  }

  /** Emulator time in epoch ms (real time plus advanceClock offsets). */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
    this.sweep();
  }

  /** Creates and stores a token. Unspecified fields get neutral defaults. */
  insert(p: Partial<TokenEntry> & { policies: string[]; path: string }): TokenEntry {
    const now = this.now();
    let id = p.id ?? `${this.tokenPrefix}${base62(24)}`;
    while (this.tokens.has(id)) id = `${this.tokenPrefix}${base62(24)}`;
    let accessor = base62(24);
    while (this.byAccessor.has(accessor)) accessor = base62(24);
    const ttl = p.ttl ?? 0;
    const te: TokenEntry = {
      id, accessor, policies: p.policies, meta: p.meta ?? null, displayName: p.displayName ?? "token",
      path: p.path, role: p.role ?? "", orphan: p.orphan ?? false, renewable: p.renewable ?? ttl > 0,
      period: p.period ?? 0, ttl, creationTtl: ttl, explicitMaxTtl: p.explicitMaxTtl ?? 0,
      effectiveExplicitMaxTtl: p.effectiveExplicitMaxTtl ?? p.explicitMaxTtl ?? 0,
      expireAt: ttl > 0 ? now + ttl * 1000 : null, creationTime: now, issueTime: now, lastRenewal: null,
      numUses: p.numUses ?? 0, parentAccessor: p.parentAccessor ?? "", type: "service",
      entityId: p.entityId ?? "", isWrapping: p.isWrapping ?? false,
    };
    if (p.periodFromRole) te.periodFromRole = true;
    if (p.wrapped) te.wrapped = p.wrapped;
    this.tokens.set(te.id, te);
    this.byAccessor.set(te.accessor, te.id);
    return te;
  }

  /** Live token by id (after sweeping expired ones). */
  get(id: string): TokenEntry | undefined {
    this.sweep();
    return this.tokens.get(id);
  }

  /** Live token by accessor. */
  getByAccessor(accessor: string): TokenEntry | undefined {
    this.sweep();
    const id = this.byAccessor.get(accessor);
    return id === undefined ? undefined : this.tokens.get(id);
  }

  /** Revokes a token and, recursively, its non-orphan children. Unknown ids are ignored. */
  revoke(id: string): void {
    const te = this.tokens.get(id);
    if (te === undefined) return;
    this.tokens.delete(id);
    this.byAccessor.delete(te.accessor);
    for (const child of [...this.tokens.values()]) {
      if (child.parentAccessor === te.accessor) this.revoke(child.id);
    }
  }

  /** Revokes every token whose expiry has passed (with its children). */
  sweep(): void {
    const now = this.now();
    for (const te of [...this.tokens.values()]) {
      if (te.expireAt !== null && te.expireAt <= now) this.revoke(te.id);
    }
  }

  /**
   * UseToken: one use of a limited-use token. Returns true when that was the last use
   * (the caller revokes the token once the request is done).
   */
  use(te: TokenEntry): boolean {
    if (te.numUses <= 0) return false;
    te.numUses -= 1;
    return te.numUses === 0;
  }

  /** Policies of the token plus their rules, for the ACL. */
  rulesFor(policies: readonly string[]): PolicyRule[] {
    return policies.flatMap((p) => this.policies.get(p) ?? []);
  }

  /** A stable entity id per (mount, alias name), like Vault's identity store would create. */
  entityFor(key: string): string {
    let id = this.entityIds.get(key);
    if (id === undefined) { id = crypto.randomUUID(); this.entityIds.set(key, id); }
    return id;
  }

  addLdapUser(name: string, password: string, policies: string[]): void {
    this.ldapUsers.set(name, { password, policies: sanitizePolicies(policies, false), entityId: this.entityFor(`ldap/${name}`) });
  }

  /** Every live token except the root token. */
  live(): TokenEntry[] {
    this.sweep();
    return [...this.tokens.values()].filter((t) => t !== this.root);
  }
}

export { MAX_LEASE_TTL };
