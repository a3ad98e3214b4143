/**
 * What a node's generator token must be allowed to do, as Vault ACL paths:
 * shared by `bootstrap` (which checks a freshly created token before writing
 * it) and `doctor` (which checks the installed one).
 */
import { expandTemplate, isRoleTemplate } from "../../authz/authorize.ts";

/** Stand-in pod for a role template: `{namespace}` and `{serviceaccount}` both become this. */
export const SAMPLE_NAME = "default";

export interface CapabilityNeed {
  readonly path: string;
  /** What the driver does with it, for messages. */
  readonly purpose: string;
  /** Any one of these is enough (`create` and `update` are both a write to these endpoints). */
  readonly anyOf: readonly string[];
  /** True when `path` was built from a role template with sample names: a denial may not hold for real namespaces. */
  readonly sampled: boolean;
}

const WRITE = ["create", "update"] as const;

/** The role name the check uses: the role itself, or the template filled with {@link SAMPLE_NAME}. */
export function sampleRole(roleName: string): string {
  return expandTemplate(roleName, { uid: "", name: "", namespace: SAMPLE_NAME, serviceAccount: SAMPLE_NAME });
}

/** The three endpoints the driver calls with the generator token (lookup-self is proven by calling it). */
export function generatorNeeds(roleName: string): CapabilityNeed[] {
  const sampled = isRoleTemplate(roleName);
  return [
    { path: `auth/token/create/${sampleRole(roleName)}`, purpose: "mint pod tokens", anyOf: WRITE, sampled },
    { path: "auth/token/revoke-accessor", purpose: "revoke them at unmount", anyOf: WRITE, sampled: false },
    { path: "auth/token/renew-self", purpose: "keep itself alive", anyOf: WRITE, sampled: false },
  ];
}

/** What the revoke-only token of pod identity mode must be allowed (lookup-self is proven by calling it; lookup-accessor serves pods that set vault/policies). */
export function revokeOnlyNeeds(): CapabilityNeed[] {
  return [
    { path: "auth/token/revoke-accessor", purpose: "revoke pod tokens at unmount", anyOf: WRITE, sampled: false },
    { path: "auth/token/renew-self", purpose: "keep itself alive", anyOf: WRITE, sampled: false },
    { path: "auth/token/lookup-accessor", purpose: "check a wrapped login against vault/policies", anyOf: WRITE, sampled: false },
  ];
}

/** The only paths a revoke-only token's policies may grant anything on (policies/revoke_only_policy.hcl). */
export const REVOKE_ONLY_PATHS = ["auth/token/revoke-accessor", "auth/token/renew-self", "auth/token/lookup-self", "auth/token/lookup-accessor", "auth/token/revoke-self", "sys/capabilities-self"] as const;

/** policies/revoke_only_policy.hcl as bootstrap --revoke-only names it: the one policy doctor accepts on the node token beside `default`. */
export const REVOKE_ONLY_POLICY = "vaulttmpfs_revoke_only";

/** A name no policy singles out, so a wildcard grant (`sys/policies/acl/*`) shows up. */
const ANY_NAME = "x";

/**
 * Paths through which a token could mint tokens or change who may log in or
 * with which policies: a revoke-only token must be denied all of them. A
 * sample only (a grant on `auth/token/create/k8s-*` is caught only when the
 * node's role lands in it): `bootstrap --revoke-only` proves the policies
 * themselves, this is its second line and doctor's check.
 */
export function mintingPaths(authMount: string, roleName: string): string[] {
  return [
    "auth/token/create",
    "auth/token/create-orphan",
    `auth/token/create/${SAMPLE_NAME}`,
    ...(sampleRole(roleName) === SAMPLE_NAME ? [] : [`auth/token/create/${sampleRole(roleName)}`]),
    `auth/token/roles/${ANY_NAME}`,
    `auth/${authMount}/role/${SAMPLE_NAME}`,
    `auth/${authMount}/config`,
    `sys/policies/acl/${ANY_NAME}`,
    `sys/auth/${ANY_NAME}`,
  ];
}

/** The paths of `paths` on which `capabilities` allow a write (create, update, sudo or root). */
export function writablePaths(paths: readonly string[], capabilities: Readonly<Record<string, readonly string[]>>): string[] {
  return paths.filter((p) => {
    const granted = capabilities[p] ?? [];
    return !granted.includes("deny") && ["create", "update", "sudo", "root"].some((c) => granted.includes(c));
  });
}

/** The needs `capabilities` (path → capabilities, as sys/capabilities-self answers) does not meet. `root` meets all. */
export function unmetNeeds(needs: readonly CapabilityNeed[], capabilities: Readonly<Record<string, readonly string[]>>): CapabilityNeed[] {
  return needs.filter((need) => {
    const granted = capabilities[need.path] ?? [];
    if (granted.includes("deny")) return true;
    return !granted.includes("root") && !need.anyOf.some((c) => granted.includes(c));
  });
}

/** `create or update on auth/token/create/x (mint pod tokens)`, one need per item. */
export function describeNeeds(needs: readonly CapabilityNeed[]): string {
  return needs.map((n) => `${n.anyOf.join(" or ")} on ${n.path} (${n.purpose})`).join("; ");
}
