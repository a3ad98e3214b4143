/**
 * Token creation (`auth/token/create`, `create-orphan`, `create/:role`), a port of
 * handleCreateCommon (Vault 1.14) in its code order, plus framework.CalculateTTL.
 * Only service tokens are issued; batch tokens are refused with an explicit message.
 */
import { goQuoteList, humanDuration, parseDurationSecond } from "./gotext.ts";
import { sanitizePolicies, strListContainsGlob, strListSubset, removeDuplicates } from "./policy.ts";
import type { RoleEntry } from "./roles.ts";
import { MAX_LEASE_TTL, type EmulatorState, type TokenEntry } from "./state.ts";
import { badRequest, type AuthInfo, type LogicalResponse } from "./wire.ts";
import { wBool, wInt, wMeta, wString, wStrings } from "./weak.ts";

export const CREATE_FIELDS: readonly string[] = [
  "role_name", "display_name", "explicit_max_ttl", "entity_alias", "num_uses", "period", "renewable", "ttl",
  "lease", "type", "no_default_policy", "id", "meta", "no_parent", "policies",
];

export interface CreateContext {
  state: EmulatorState;
  parent: TokenEntry;
  /** Path relative to the token mount: `create`, `create-orphan` or `create/<role>`. */
  relPath: string;
  orphan: boolean;
  role: RoleEntry | undefined;
  isSudo: boolean;
  data: Record<string, unknown> | null;
}

/** framework.CalculateTTL. Durations in seconds; times in ms (truncated to seconds). */
export function calculateTtl(p: { increment: number; backendTtl: number; period: number; backendMaxTtl: number;
  explicitMaxTtl: number; startMs: number; nowMs: number }): { ttl: number; warnings: string[] } {
  const now = Math.floor(p.nowMs / 1000);
  const start = Math.floor(p.startMs / 1000);
  const warnings: string[] = [];
  let maxTtl = MAX_LEASE_TTL;
  if (p.backendMaxTtl > 0 && p.backendMaxTtl < maxTtl) maxTtl = p.backendMaxTtl;
  if (p.explicitMaxTtl > 0 && p.explicitMaxTtl < maxTtl) maxTtl = p.explicitMaxTtl;
  let ttl: number;
  let maxValidTime: number | undefined;
  if (p.period > 0) {
    let period = p.period;
    if (period > maxTtl) {
      warnings.push(`period of "${humanDuration(period)}" exceeded the effective max_ttl of "${humanDuration(maxTtl)}"; period value is capped accordingly`);
      period = maxTtl;
    }
    ttl = period;
    if (p.explicitMaxTtl > 0) maxValidTime = start + p.explicitMaxTtl;
  } else {
    ttl = p.increment > 0 ? p.increment : p.backendTtl > 0 ? p.backendTtl : MAX_LEASE_TTL;
    maxValidTime = start + maxTtl;
  }
  if (maxValidTime !== undefined) {
    const maxValidTtl = maxValidTime - now;
    if (maxValidTtl <= 0) throw badRequest("past the max TTL, cannot renew");
    if (maxValidTtl - ttl < 0) {
      warnings.push(`TTL of "${humanDuration(ttl)}" exceeded the effective max_ttl of "${humanDuration(maxValidTtl)}"; TTL value is capped accordingly`);
      ttl = maxValidTtl;
    }
  }
  return { ttl, warnings };
}

/** A duration request field; Go's parse error text becomes a 400. */
function durationArg(v: string): number {
  try {
    return parseDurationSecond(v);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

/** handleCreateCommon. Returns the logical response (auth + warnings). */
export function createToken(c: CreateContext): LogicalResponse {
  const { state, parent, role, isSudo } = c;
  const d = c.data ?? {};
  if (parent.numUses > 0) throw badRequest("restricted use token cannot generate child tokens");
  const req = {
    id: wString("id", d["id"]), policies: wStrings("policies", d["policies"]), meta: wMeta(d["meta"]),
    noParent: wBool("no_parent", d["no_parent"]) ?? false, noDefault: wBool("no_default_policy", d["no_default_policy"]) ?? false,
    lease: wString("lease", d["lease"]), ttl: wString("ttl", d["ttl"]), renewable: wBool("renewable", d["renewable"]),
    explicitMaxTtl: wString("explicit_max_ttl", d["explicit_max_ttl"]), displayName: wString("display_name", d["display_name"]),
    numUses: wInt("num_uses", d["num_uses"]), period: wString("period", d["period"]), type: wString("type", d["type"]),
    entityAlias: wString("entity_alias", d["entity_alias"]),
  };
  let renewable = req.renewable ?? true;
  let typeStr = req.type;
  if (role) {
    if (role.tokenType === "default-batch" && typeStr === "") typeStr = "batch";
    if (role.tokenType === "service" || role.tokenType === "batch") typeStr = role.tokenType;
  }
  if (typeStr === "batch") throw badRequest("batch tokens are not supported by the Vault emulator");
  if (typeStr !== "" && typeStr !== "service") throw badRequest("invalid 'token_type' value");
  if (req.numUses < 0) throw badRequest("number of uses cannot be negative");

  let explicitEntityId = "";
  if (req.entityAlias !== "") {
    if (!role) throw badRequest("'entity_alias' is only allowed in combination with token role");
    const alias = req.entityAlias.toLowerCase();
    const allowed = role.allowedEntityAliases ?? [];
    if (!allowed.includes(alias) && !strListContainsGlob(allowed, alias)) throw badRequest("invalid 'entity_alias' value");
    explicitEntityId = state.entityFor(`token/${alias}`);
  }

  let path = `auth/token/${c.relPath}`;
  let numUses = req.numUses;
  if (role) {
    if (renewable && !role.renewable) renewable = false;
    if (role.tokenNumUses !== 0 && (numUses === 0 || role.tokenNumUses < numUses)) numUses = role.tokenNumUses;
    if (role.pathSuffix !== "") path = `${path}/${role.pathSuffix}`;
  }
  let displayName = "token";
  if (req.displayName !== "") displayName = `token-${req.displayName}`.replace(/[^a-zA-Z0-9-]/g, "-").replace(/-$/, "");
  if (req.id !== "") {
    if (!isSudo) throw badRequest("root or sudo privileges required to specify token id");
    if (req.id.startsWith("hvs.")) throw badRequest("custom token ID cannot have the 'hvs.' prefix");
    if (req.id.startsWith("s.")) throw badRequest("custom token ID cannot have the 's.' prefix");
    if (req.id.includes(".")) throw badRequest("custom token ID cannot have a '.' in the value");
    if (state.tokens.has(req.id)) throw badRequest("cannot create a token with a duplicate ID");
  }

  const policies = finalPolicies(req.policies, req.noDefault, parent, role, isSudo);
  if (policies.includes("root") && !parent.policies.includes("root")) {
    throw badRequest("root tokens may not be created without parent token being root");
  }

  let orphan: boolean;
  if (role) orphan = role.orphan;
  else if (req.noParent) {
    if (!isSudo) throw badRequest("root or sudo privileges required to create orphan token");
    orphan = true;
  } else orphan = c.orphan;
  const entityId = explicitEntityId !== "" ? explicitEntityId : orphan ? "" : parent.entityId;

  let explicitMax = 0;
  if (req.explicitMaxTtl !== "") {
    explicitMax = durationArg(req.explicitMaxTtl);
    if (explicitMax < 0) throw badRequest("explicit_max_ttl must be positive");
  }
  const requestExplicitMax = explicitMax;
  let period = 0;
  if (req.period !== "") {
    const dur = durationArg(req.period);
    if (dur < 0) throw badRequest("period must be positive");
    if (dur > 0) {
      if (!isSudo) throw badRequest("root or sudo privileges required to create periodic token");
      period = dur;
    }
  }
  let ttl = 0;
  if (req.ttl !== "") {
    ttl = durationArg(req.ttl);
    if (ttl < 0) throw badRequest("ttl must be positive");
  } else if (req.lease !== "") {
    ttl = durationArg(req.lease);
    if (ttl < 0) throw badRequest("lease must be positive");
  }

  const warnings: string[] = [];
  if (role) {
    if (role.tokenExplicitMaxTtl !== 0) {
      if (explicitMax === 0) explicitMax = role.tokenExplicitMaxTtl;
      else {
        explicitMax = Math.min(explicitMax, role.tokenExplicitMaxTtl);
        warnings.push(`Explicit max TTL specified both during creation call and in role; using the lesser value of ${Math.trunc(explicitMax)} seconds`);
      }
    }
    if (role.tokenPeriod !== 0) {
      if (period === 0) period = role.tokenPeriod;
      else {
        period = Math.min(period, role.tokenPeriod);
        warnings.push(`Period specified both during creation call and in role; using the lesser value of ${Math.trunc(period)} seconds`);
      }
    }
  }
  const now = state.now();
  if (period > 0 || ttl > 0 || !policies.includes("root")) {
    const r = calculateTtl({ increment: 0, backendTtl: ttl, period, backendMaxTtl: 0, explicitMaxTtl: explicitMax, startMs: now, nowMs: now });
    warnings.push(...r.warnings);
    ttl = r.ttl;
  }
  if (ttl === 0 && explicitMax > 0) ttl = explicitMax;
  if (ttl === 0) {
    if (parent.ttl !== 0) throw badRequest("expiring root tokens cannot create non-expiring root tokens");
    renewable = false;
  }
  if (req.id !== "") {
    warnings.push("Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.");
  }

  const te = state.insert({
    ...(req.id !== "" ? { id: req.id } : {}), policies, meta: req.meta, displayName, path, role: role?.name ?? "",
    orphan, renewable, period, periodFromRole: period !== 0 && req.period === "", ttl, explicitMaxTtl: requestExplicitMax, effectiveExplicitMaxTtl: explicitMax,
    numUses, parentAccessor: orphan ? "" : parent.accessor, entityId,
  });
  return { auth: authFor(te, te.id, ttl, renewable), warnings };
}

/** The policy rules of step 9 (role lists, parent subset, default handling, forbidden names). */
function finalPolicies(requested: string[], noDefault: boolean, parent: TokenEntry, role: RoleEntry | undefined, isSudo: boolean): string[] {
  let data = requested;
  let addDefault = false;
  if (role && (role.allowedPolicies.length > 0 || role.disallowedPolicies.length > 0 ||
      role.allowedPoliciesGlob.length > 0 || role.disallowedPoliciesGlob.length > 0)) {
    const localAddDefault = !noDefault && !role.tokenNoDefaultPolicy &&
      !role.disallowedPolicies.includes("default") && !strListContainsGlob(role.disallowedPoliciesGlob, "default");
    let final: string[] = requested.length > 0 ? sanitizePolicies(requested, localAddDefault) : [];
    if (role.allowedPolicies.length > 0 || role.allowedPoliciesGlob.length > 0) {
      const allowed = sanitizePolicies(role.allowedPolicies, localAddDefault);
      if (final.length === 0) final = allowed;
      else {
        const globs = sanitizePolicies(role.allowedPoliciesGlob, false);
        for (const p of final) {
          if (!allowed.includes(p) && !strListContainsGlob(globs, p)) {
            throw badRequest(`token policies (${goQuoteList(final)}) must be subset of the role's allowed policies (${goQuoteList(allowed)}) or glob policies (${goQuoteList(globs)})`);
          }
        }
      }
    } else if (final.length === 0) final = sanitizePolicies(parent.policies, localAddDefault);
    if (role.disallowedPolicies.length > 0 || role.disallowedPoliciesGlob.length > 0) {
      const dis = removeDuplicates(role.disallowedPolicies, true);
      const disGlob = removeDuplicates(role.disallowedPoliciesGlob, true);
      for (const p of final) {
        if (dis.includes(p) || strListContainsGlob(disGlob, p)) throw badRequest(`token policy "${p}" is disallowed by this role`);
      }
    }
    data = final;
  } else if (requested.length === 0) {
    data = sanitizePolicies(parent.policies, false);
  } else if (!isSudo) {
    if (!strListSubset(sanitizePolicies(parent.policies, false), sanitizePolicies(requested, false))) {
      throw badRequest("child policies must be subset of parent");
    }
    addDefault = !noDefault && parent.policies.includes("default");
  } else addDefault = !noDefault;
  let policies = sanitizePolicies(data, addDefault);
  if (noDefault) policies = policies.filter((p) => p !== "default");
  for (const p of policies) {
    if (p === "response-wrapping" || p === "control-group") throw badRequest(`cannot assign policy "${p}"`);
  }
  return policies;
}

/** The `auth` block for a token (create, renew, login). */
export function authFor(te: TokenEntry, clientToken: string, leaseSeconds: number, renewable: boolean): AuthInfo {
  return {
    clientToken, accessor: te.accessor, policies: te.policies, tokenPolicies: te.policies,
    metadata: te.meta, leaseDuration: leaseSeconds, renewable, entityId: te.entityId, tokenType: te.type,
    orphan: te.orphan, numUses: te.numUses,
  };
}

