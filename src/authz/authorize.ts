import { ConfigError, ForbiddenError } from "../errors.ts";
import type { PodIdentity } from "../flex/options.ts";
import { isRoleName } from "../vault/names.ts";

type Placeholders = { readonly namespace: string; readonly serviceaccount: string };

const TOKEN = /\{(namespace|serviceaccount)\}/g;
const escapeRegex = (s: string) => s.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&");

function placeholders(pod: PodIdentity): Placeholders {
  return { namespace: pod.namespace, serviceaccount: pod.serviceAccount };
}

/** True when `role` holds a `{namespace}` or `{serviceaccount}` placeholder: one role per tenant. */
export function isRoleTemplate(role: string): boolean {
  return role.search(TOKEN) >= 0;
}

/**
 * Refuses a role name (or template) from `variable` that is not a valid
 * Vault role name once filled in, or with which two tenants resolve to one
 * role: a shared role is a shared set of policies and limits.
 */
export function checkRoleTemplate(variable: string, role: string): void {
  if (!isRoleName(role.replaceAll(TOKEN, "x"))) {
    throw new ConfigError(variable, `${JSON.stringify(role)} is not a valid Vault role name (letters, digits, '_', '-', '.'; placeholders {namespace} and {serviceaccount})`);
  }
  if (ambiguousPatterns([role]).length > 0) {
    throw new ConfigError(variable, `${JSON.stringify(role)} gives two different tenants the same role (with k8s-{namespace}-{serviceaccount}, namespace a + service account b-web and namespace a-b + service account web both get k8s-a-b-web); join placeholders with '_', which a namespace cannot contain: ${suggestRole(role)}`);
  }
}

/** The template with every character between and after placeholders that names may contain replaced by '_'. */
function suggestRole(role: string): string {
  return role.replaceAll(/\}[-.]/g, "}_").replaceAll(/[-.]\{/g, "_{");
}

/** Substitutes `{namespace}`/`{serviceaccount}` into a role name template. */
export function expandTemplate(template: string, pod: PodIdentity): string {
  const values = placeholders(pod);
  return template.replaceAll(TOKEN, (_, name: keyof Placeholders) => values[name]);
}

/**
 * Compiles a glob with placeholders. `*` in the pattern matches anything;
 * placeholder values are inserted as literals, so a namespace called `*` or
 * `a*` cannot widen the pattern. Matching is whole-name and case-sensitive.
 */
export function compilePattern(pattern: string, pod: PodIdentity): RegExp {
  const values = placeholders(pod);
  let source = "";
  let last = 0;
  for (const m of pattern.matchAll(TOKEN)) {
    source += globToRegex(pattern.slice(last, m.index)) + escapeRegex(values[m[1] as keyof Placeholders]);
    last = m.index + m[0].length;
  }
  source += globToRegex(pattern.slice(last));
  return new RegExp(`^${source}$`);
}

function globToRegex(glob: string): string {
  return glob.split("*").map(escapeRegex).join(".*");
}

export function matchesAny(name: string, patterns: readonly string[], pod: PodIdentity): boolean {
  return patterns.some((p) => compilePattern(p, pod).test(name));
}

function who(pod: PodIdentity): string {
  return `pod ${pod.namespace}/${pod.name} (service account ${JSON.stringify(pod.serviceAccount)})`;
}

/** Picks the token role: the pod's `vault/role` if the node allows it, else the (expanded) default. */
export function resolveRole(opts: {
  defaultRole: string;
  requested: string | undefined;
  allowedRoles: readonly string[] | null;
  pod: PodIdentity;
  /** The variable that set `defaultRole`, for messages (pod identity mode: VAULTTMPFS_LOGIN_ROLE). */
  templateVariable?: string;
}): string {
  const { requested, allowedRoles, pod } = opts;
  if (requested === undefined) {
    const role = expandTemplate(opts.defaultRole, pod);
    if (!isRoleName(role)) {
      const hint = pod.serviceAccount === "" && opts.defaultRole.includes("{serviceaccount}") ? "; give the pod a service account" : "";
      throw new ForbiddenError(`the role template ${JSON.stringify(opts.defaultRole)} gives the invalid role name ${JSON.stringify(role)} for ${who(pod)}${hint}`);
    }
    return role;
  }
  if (allowedRoles === null) {
    throw new ForbiddenError(`${who(pod)} may not choose vault/role: this node gives every namespace its own role (${opts.templateVariable ?? "VAULTTMPFS_ROLE_NAME"}=${opts.defaultRole}); remove the option`);
  }
  if (!matchesAny(requested, allowedRoles, pod)) {
    throw new ForbiddenError(`${who(pod)} may not use role ${JSON.stringify(requested)}: not allowed by VAULTTMPFS_ALLOWED_ROLES`);
  }
  return requested;
}

/** Every requested policy must match one allowed pattern; refused before any Vault call. */
export function authorizePolicies(policies: readonly string[], allowed: readonly string[], pod: PodIdentity): void {
  const refused = policies.filter((p) => !matchesAny(p, allowed, pod));
  if (refused.length > 0) {
    throw new ForbiddenError(`${who(pod)} may not request polic${refused.length > 1 ? "ies" : "y"} ${refused.map((p) => JSON.stringify(p)).join(", ")}: not allowed in namespace ${JSON.stringify(pod.namespace)} by VAULTTMPFS_ALLOWED_POLICIES`);
  }
}

/** Characters a value can contain: namespaces are DNS labels, service accounts DNS subdomains. */
const NAME_CHARS: Record<keyof Placeholders, RegExp> = { namespace: /[a-z0-9-]/, serviceaccount: /[a-z0-9.-]/ };

/**
 * Patterns in which one tenant's values can produce another tenant's names:
 * a `*` reachable from a placeholder through characters its values may
 * contain (`{namespace}-*` lets namespace `team` match `team-a-db`, the
 * policy of namespace `team-a`; `*-{namespace}` the same from the left), or
 * two placeholders joined by such characters (`{namespace}-{serviceaccount}`:
 * `a-b`+`c` and `a`+`b-c` give the same name). `{namespace}.*`,
 * `{namespace}_*` and `{namespace}_{serviceaccount}` are unambiguous.
 */
export function ambiguousPatterns(patterns: readonly string[]): string[] {
  return patterns.filter((pattern) => {
    for (const m of pattern.matchAll(TOKEN)) {
      const chars = NAME_CHARS[m[1] as keyof Placeholders];
      const right = skipWhile(pattern.slice(m.index + m[0].length), chars);
      const left = skipWhile([...pattern.slice(0, m.index)].reverse().join(""), chars);
      if (right.startsWith("*") || right.startsWith("{") || left.startsWith("*")) return true;
    }
    return false;
  });
}

/** `text` without its leading characters that match `chars`. */
function skipWhile(text: string, chars: RegExp): string {
  let i = 0;
  while (i < text.length && chars.test(text[i] ?? "")) i++;
  return text.slice(i);
}
