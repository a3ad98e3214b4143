/**
 * Policies for the emulator: Vault's policy-list helpers (policyutil / strutil) and a
 * minimal ACL. A rule is `{ path, capabilities }`; `path` is exact, a prefix glob ending
 * in `*`, and/or has `+` single-segment wildcards. As in Vault, the rules of all of a
 * token's policies are merged first (same pattern → union, `deny` wins), then the single
 * most specific matching pattern decides.
 */

export interface PolicyRule {
  path: string;
  capabilities: string[];
}

export const CAPABILITIES = ["create", "read", "update", "delete", "list", "sudo", "deny", "patch"] as const;

/** Built-in policies. `default` mirrors Vault's default policy (identity paths left out). */
export const BUILTIN_POLICIES: Readonly<Record<string, PolicyRule[]>> = {
  default: [
    { path: "auth/token/lookup-self", capabilities: ["read"] },
    { path: "auth/token/renew-self", capabilities: ["update"] },
    { path: "auth/token/revoke-self", capabilities: ["update"] },
    { path: "sys/capabilities-self", capabilities: ["update"] },
    { path: "sys/internal/ui/resultant-acl", capabilities: ["read"] },
    { path: "sys/renew", capabilities: ["update"] },
    { path: "sys/leases/renew", capabilities: ["update"] },
    { path: "sys/leases/lookup", capabilities: ["update"] },
    { path: "cubbyhole/*", capabilities: ["create", "read", "update", "delete", "list"] },
    { path: "sys/wrapping/wrap", capabilities: ["update"] },
    { path: "sys/wrapping/lookup", capabilities: ["update"] },
    { path: "sys/wrapping/unwrap", capabilities: ["update"] },
    { path: "sys/tools/hash", capabilities: ["update"] },
    { path: "sys/tools/hash/*", capabilities: ["update"] },
    { path: "sys/control-group/request", capabilities: ["update"] },
    { path: "sys/mfa/validate", capabilities: ["update"] },
  ],
  "response-wrapping": [
    { path: "cubbyhole/response", capabilities: ["create", "read"] },
    { path: "sys/wrapping/unwrap", capabilities: ["update"] },
  ],
  applications_token_creator: [
    { path: "auth/token/create/*", capabilities: ["create", "update"] },
    { path: "auth/token/renew-self", capabilities: ["update"] },
    { path: "auth/token/lookup-self", capabilities: ["read"] },
    { path: "auth/token/revoke-accessor", capabilities: ["update"] },
    { path: "auth/token/roles/*", capabilities: ["read"] },
    { path: "sys/capabilities-self", capabilities: ["update"] },
  ],
  /** A simple way to get a sudo (but non-root) caller in tests. */
  "sudo-token-creator": [
    { path: "auth/token/*", capabilities: ["create", "read", "update", "delete", "list", "sudo"] },
    { path: "sys/capabilities-self", capabilities: ["update"] },
  ],
};

/** strutil.RemoveDuplicates: trim, drop empty, optionally lowercase, dedupe, sort. */
export function removeDuplicates(items: readonly string[], lowercase: boolean): string[] {
  const set = new Set<string>();
  for (let item of items) {
    item = item.trim();
    if (item === "") continue;
    set.add(lowercase ? item.toLowerCase() : item);
  }
  return [...set].sort();
}

/** policyutil.SanitizePolicies: lowercase/trim; `root` collapses the list; maybe add `default`. */
export function sanitizePolicies(input: readonly string[], addDefault: boolean): string[] {
  let policies = input.map((p) => p.trim().toLowerCase());
  let defaultFound = false;
  for (const p of policies) {
    if (p === "root") { policies = ["root"]; defaultFound = true; break; }
    if (p === "default") defaultFound = true;
  }
  if (addDefault && (policies.length === 0 || !defaultFound)) policies.push("default");
  return removeDuplicates(policies, false);
}

/** strutil.StrListSubset: every item of `sub` is in `sup`. */
export function strListSubset(sup: readonly string[], sub: readonly string[]): boolean {
  return sub.every((s) => sup.includes(s));
}

/** ryanuber/go-glob Glob (used by StrListContainsGlob). */
export function goGlob(pattern: string, subj: string): boolean {
  if (pattern === "") return subj === pattern;
  if (pattern === "*") return true;
  const parts = pattern.split("*");
  if (parts.length === 1) return subj === pattern;
  const leading = pattern.startsWith("*");
  const trailing = pattern.endsWith("*");
  const end = parts.length - 1;
  for (let i = 0; i < end; i++) {
    const part = parts[i] ?? "";
    const idx = subj.indexOf(part);
    if (i === 0 ? !leading && idx !== 0 : idx < 0) return false;
    subj = subj.slice(idx + part.length);
  }
  return trailing || subj.endsWith(parts[end] ?? "");
}

export function strListContainsGlob(globs: readonly string[], s: string): boolean {
  return globs.some((g) => goGlob(g, s));
}

/** Does ACL pattern `pattern` match request path `path`? */
function patternMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith("*");
  const body = glob ? pattern.slice(0, -1) : pattern;
  if (!body.includes("+")) return glob ? path.startsWith(body) : path === body;
  const pSegs = body.split("/");
  const segs = path.split("/");
  for (let i = 0; i < pSegs.length; i++) {
    const p = pSegs[i] ?? "";
    const s = segs[i];
    if (s === undefined) return false;
    const last = i === pSegs.length - 1;
    if (p === "+") continue;
    if (last && glob) return s.startsWith(p);
    if (p !== s) return false;
  }
  return glob || segs.length === pSegs.length;
}

/** Vault's ordering of non-exact matches: true when `a` is more specific than `b`. */
function moreSpecific(a: string, b: string): boolean {
  const firstWc = (p: string) => { const i = p.search(/[+*]/); return i < 0 ? p.length : i; };
  if (firstWc(a) !== firstWc(b)) return firstWc(a) > firstWc(b);
  const ga = a.endsWith("*"), gb = b.endsWith("*");
  if (ga !== gb) return !ga;
  const pa = a.split("+").length, pb = b.split("+").length;
  if (pa !== pb) return pa < pb;
  if (a.length !== b.length) return a.length > b.length;
  return a > b;
}

/** The merged ACL of a token's policies. */
export class Acl {
  private readonly merged = new Map<string, Set<string>>();

  constructor(rules: readonly PolicyRule[]) {
    for (const r of rules) {
      const caps = this.merged.get(r.path) ?? new Set<string>();
      for (const c of r.capabilities) caps.add(c.toLowerCase());
      this.merged.set(r.path, caps);
    }
  }

  /** Capabilities granted on `path` (sorted; `["deny"]` when none or denied). */
  capabilities(path: string): string[] {
    let caps = this.merged.get(path);
    if (caps === undefined) {
      let best: string | undefined;
      for (const pattern of this.merged.keys()) {
        if (!/[+*]/.test(pattern) || !patternMatches(pattern, path)) continue;
        if (best === undefined || moreSpecific(pattern, best)) best = pattern;
      }
      caps = best === undefined ? undefined : this.merged.get(best);
    }
    if (caps === undefined || caps.size === 0 || caps.has("deny")) return ["deny"];
    return [...caps].sort();
  }

  allows(path: string, capability: string): boolean {
    return this.capabilities(path).includes(capability);
  }
}
