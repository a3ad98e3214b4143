/**
 * Token roles (`auth/token/roles/:name`), following tokenStoreRoleCreateUpdate and
 * tokenStoreRoleRead of Vault 1.14: field parsing, legacy-field precedence and warnings,
 * validation errors, and the exact read data.
 */
import { goNumberText, goQuote, parseDurationSecond, parseGoBool } from "./gotext.ts";
import { removeDuplicates, sanitizePolicies } from "./policy.ts";
import { badRequest } from "./wire.ts";

/** Fields accepted by a role write (HTTP body shape; strings or lists, ints or durations). */
export interface RoleFields {
  allowed_policies: string[] | string;
  disallowed_policies: string[] | string;
  allowed_policies_glob: string[] | string;
  disallowed_policies_glob: string[] | string;
  allowed_entity_aliases: string[] | string;
  orphan: boolean;
  renewable: boolean;
  path_suffix: string;
  token_period: number | string;
  period: number | string;
  token_explicit_max_ttl: number | string;
  explicit_max_ttl: number | string;
  token_no_default_policy: boolean;
  token_num_uses: number;
  token_type: string;
  token_bound_cidrs: string[] | string;
  bound_cidrs: string[] | string;
}

/** A stored role. Durations are seconds. */
export interface RoleEntry {
  name: string;
  allowedPolicies: string[];
  disallowedPolicies: string[];
  allowedPoliciesGlob: string[];
  disallowedPoliciesGlob: string[];
  allowedEntityAliases: string[] | null;
  orphan: boolean;
  renewable: boolean;
  pathSuffix: string;
  tokenPeriod: number;
  period: number;
  tokenExplicitMaxTtl: number;
  explicitMaxTtl: number;
  tokenNoDefaultPolicy: boolean;
  tokenNumUses: number;
  tokenType: string;
  tokenBoundCidrs: string[];
  boundCidrs: string[];
}

export const ROLE_FIELDS: readonly string[] = [
  "role_name", "allowed_policies", "disallowed_policies", "allowed_policies_glob", "disallowed_policies_glob",
  "allowed_entity_aliases", "orphan", "renewable", "path_suffix", "token_period", "period",
  "token_explicit_max_ttl", "explicit_max_ttl", "token_no_default_policy", "token_num_uses", "token_type",
  "token_bound_cidrs", "bound_cidrs",
];

/** System max lease TTL (32 days). */
export const MAX_LEASE_TTL = 2764800;

function fieldError(name: string, value: unknown, err: string): Error {
  return badRequest(`Field validation failed: error converting input ${String(value)} for field ${goQuote(name)}: ${err}`);
}

/** framework TypeCommaStringSlice. */
export function commaSlice(name: string, v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (typeof v === "number" || typeof v === "boolean") return [String(v)];
  if (Array.isArray(v)) return v.flatMap((x) => commaSlice(name, x));
  throw fieldError(name, v, "could not parse value as a comma-separated list");
}

/** framework TypeBool (parseutil.ParseBool, weakly typed). */
export function weakBool(name: string, v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (v === null || v === undefined || v === "") return false;
  if (typeof v === "string") {
    try { return parseGoBool(v); } catch (e) { throw fieldError(name, v, (e as Error).message); }
  }
  throw fieldError(name, v, "cannot parse as bool");
}

/** framework TypeInt. */
export function weakInt(name: string, v: unknown): number {
  if (v === null || v === undefined || v === "") return 0;
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^[+-]?[0-9]+$/.test(v)) return Number(v);
  throw fieldError(name, v, `strconv.ParseInt: parsing ${goQuote(typeof v === "number" ? goNumberText(v) : String(v))}: invalid syntax`);
}

/** framework TypeDurationSecond → whole seconds. */
export function durationField(name: string, v: unknown): number {
  try {
    return Math.trunc(parseDurationSecond(v));
  } catch (e) {
    throw fieldError(name, v, (e as Error).message);
  }
}

function freshRole(name: string): RoleEntry {
  return {
    name, allowedPolicies: [], disallowedPolicies: [], allowedPoliciesGlob: [], disallowedPoliciesGlob: [],
    allowedEntityAliases: null, orphan: false, renewable: true, pathSuffix: "", tokenPeriod: 0, period: 0,
    tokenExplicitMaxTtl: 0, explicitMaxTtl: 0, tokenNoDefaultPolicy: false, tokenNumUses: 0,
    tokenType: "default-service", tokenBoundCidrs: [], boundCidrs: [],
  };
}

/**
 * Applies a role write to `existing` (or a new role) and returns the new entry plus the
 * warnings Vault would answer with. Throws ApiError (400) for invalid input.
 */
export function applyRoleWrite(name: string, raw: Record<string, unknown>, existing: RoleEntry | undefined):
{ entry: RoleEntry; warnings: string[] } {
  if (name === "") throw badRequest("role name cannot be empty");
  const e: RoleEntry = existing ? structuredClone(existing) : freshRole(name);
  const has = (k: string) => raw[k] !== undefined;
  const warnings: string[] = [];

  if (has("orphan")) e.orphan = weakBool("orphan", raw["orphan"]);
  if (has("renewable")) e.renewable = weakBool("renewable", raw["renewable"]);
  if (has("path_suffix")) {
    const suffix = raw["path_suffix"] === null ? "" : String(raw["path_suffix"]);
    if (suffix !== "" && !/\w[\w\-.]+\w/.test(suffix)) {
      throw badRequest("given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w");
    }
    e.pathSuffix = suffix;
  }
  if (e.pathSuffix.includes("..")) throw badRequest("error registering path suffix: path cannot contain parent references");
  if (has("allowed_policies")) e.allowedPolicies = sanitizePolicies(commaSlice("allowed_policies", raw["allowed_policies"]), false);
  if (has("disallowed_policies")) e.disallowedPolicies = removeDuplicates(commaSlice("disallowed_policies", raw["disallowed_policies"]), true);
  if (has("allowed_policies_glob")) e.allowedPoliciesGlob = sanitizePolicies(commaSlice("allowed_policies_glob", raw["allowed_policies_glob"]), false);
  if (has("disallowed_policies_glob")) e.disallowedPoliciesGlob = removeDuplicates(commaSlice("disallowed_policies_glob", raw["disallowed_policies_glob"]), true);
  if (has("allowed_entity_aliases")) e.allowedEntityAliases = removeDuplicates(commaSlice("allowed_entity_aliases", raw["allowed_entity_aliases"]), true);

  parseTokenFields(e, raw, has);
  applyLegacy(e, raw, has, warnings);
  if ("token_type" in raw) e.tokenType = parseRoleTokenType(raw["token_type"]);
  checkBatch(e);
  if (e.tokenExplicitMaxTtl > MAX_LEASE_TTL) {
    warnings.push(`Given explicit max TTL of ${e.tokenExplicitMaxTtl} is greater than system/mount allowed value of ${MAX_LEASE_TTL} seconds; until this is fixed attempting to create tokens against this role will result in an error`);
  }
  return { entry: e, warnings };
}

function parseTokenFields(e: RoleEntry, raw: Record<string, unknown>, has: (k: string) => boolean): void {
  const nonNeg = (k: string, v: number) => {
    if (v < 0) throw badRequest(`error parsing role fields: '${k}' cannot be negative`);
    return v;
  };
  if (has("token_period")) e.tokenPeriod = nonNeg("token_period", durationField("token_period", raw["token_period"]));
  if (has("token_explicit_max_ttl")) e.tokenExplicitMaxTtl = nonNeg("token_explicit_max_ttl", durationField("token_explicit_max_ttl", raw["token_explicit_max_ttl"]));
  if (has("token_no_default_policy")) e.tokenNoDefaultPolicy = weakBool("token_no_default_policy", raw["token_no_default_policy"]);
  if (has("token_num_uses")) e.tokenNumUses = nonNeg("token_num_uses", weakInt("token_num_uses", raw["token_num_uses"]));
  if (has("token_bound_cidrs")) e.tokenBoundCidrs = commaSlice("token_bound_cidrs", raw["token_bound_cidrs"]);
}

/** Legacy `period` / `explicit_max_ttl` / `bound_cidrs`: used only when the token_ field is absent. */
function applyLegacy(e: RoleEntry, raw: Record<string, unknown>, has: (k: string) => boolean, warnings: string[]): void {
  const pairs: Array<[string, string, (legacyRaw: unknown) => void, () => void]> = [
    ["token_period", "period", (v) => { e.period = durationField("period", v); e.tokenPeriod = e.period; }, () => { e.period = 0; }],
    ["token_bound_cidrs", "bound_cidrs", (v) => { e.boundCidrs = commaSlice("bound_cidrs", v); e.tokenBoundCidrs = e.boundCidrs; }, () => { e.boundCidrs = []; }],
    ["token_explicit_max_ttl", "explicit_max_ttl", (v) => { e.explicitMaxTtl = durationField("explicit_max_ttl", v); e.tokenExplicitMaxTtl = e.explicitMaxTtl; }, () => { e.explicitMaxTtl = 0; }],
  ];
  for (const [modern, legacy, useLegacy, clearLegacy] of pairs) {
    if (!has(modern)) {
      if (has(legacy)) useLegacy(raw[legacy]);
    } else {
      if (has(legacy)) warnings.push(`Both '${modern}' and deprecated '${legacy}' value supplied, ignoring the deprecated value`);
      clearLegacy();
    }
  }
}

function parseRoleTokenType(v: unknown): string {
  if (v === null) throw badRequest("Invalid 'token_type' value: null");
  const s = String(v);
  switch (s.toLowerCase()) {
    case "service": case "batch": case "default-service": case "default-batch": return s.toLowerCase();
    case "default": case "": return "default-service";
    default: throw badRequest(`invalid 'token_type' value ${goQuote(s)}`);
  }
}

function checkBatch(e: RoleEntry): void {
  if (e.tokenType !== "batch") return;
  const bad = (what: string) => badRequest(`'token_type' cannot be 'batch' when role is set to generate ${what}`);
  if (!e.orphan) throw bad("non-orphan tokens");
  if (e.period !== 0 || e.tokenPeriod !== 0) throw bad("periodic tokens");
  if (e.renewable) throw bad("renewable tokens");
  if (e.explicitMaxTtl !== 0 || e.tokenExplicitMaxTtl !== 0) throw bad("tokens with an explicit max TTL");
}

/** The `data` of GET auth/token/roles/:name (Go map: keys are sorted on output). */
export function roleReadData(e: RoleEntry): Record<string, unknown> {
  const data: Record<string, unknown> = {
    allowed_entity_aliases: e.allowedEntityAliases, allowed_policies: e.allowedPolicies,
    allowed_policies_glob: e.allowedPoliciesGlob, disallowed_policies: e.disallowedPolicies,
    disallowed_policies_glob: e.disallowedPoliciesGlob, explicit_max_ttl: e.explicitMaxTtl, name: e.name,
    orphan: e.orphan, path_suffix: e.pathSuffix, period: e.period, renewable: e.renewable,
    token_explicit_max_ttl: e.tokenExplicitMaxTtl, token_no_default_policy: e.tokenNoDefaultPolicy,
    token_period: e.tokenPeriod, token_type: e.tokenType,
  };
  if (e.tokenBoundCidrs.length > 0) data["token_bound_cidrs"] = e.tokenBoundCidrs;
  if (e.boundCidrs.length > 0) data["bound_cidrs"] = e.boundCidrs;
  if (e.tokenNumUses > 0) data["token_num_uses"] = e.tokenNumUses;
  return data;
}
