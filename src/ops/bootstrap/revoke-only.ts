/**
 * The proof `bootstrap --revoke-only` demands before it writes a token to a
 * node: the token can revoke and renew, and nothing more. Asking Vault about
 * sample paths (sys/capabilities-self) cannot prove that, since a policy may
 * grant `auth/token/create/k8s-*` or `sys/policies/acl/*` and no sample
 * names every path; so the policies themselves are read (with the
 * operator's token: the new one may not read policies) and every rule must
 * stay within the paths of policies/revoke_only_policy.hcl. The token is
 * made without the `default` policy (an administrator may have widened it,
 * and a widened `default` is invisible to sampling), so every policy it has
 * is proven by its text, `default` included if it was named. Sampling stays
 * as a second line.
 */
import type { DriverConfig, Env } from "../../config.ts";
import { errorMessage } from "../../errors.ts";
import { loadPodIdentityConfig, type PodIdentityConfig } from "../../identity/config.ts";
import type { VaultApi } from "../../vault/api.ts";
import { isVaultStatus } from "../../vault/errors.ts";
import { grantsBeyond, parsePolicyRules } from "../../vault/policy-text.ts";
import { describeNeeds, mintingPaths, REVOKE_ONLY_PATHS, revokeOnlyNeeds, unmetNeeds, writablePaths } from "../doctor/capabilities.ts";

export const BOOTSTRAP_POLICY_FILE = "policies/bootstrap_policy.hcl";

/** Thrown when the operator's token may not read a policy: the fix is the operator's policy, not the node's. */
export class PolicyUnreadableError extends Error {}

export interface RevokeOnlyProofInput {
  readonly api: VaultApi;
  /** The operator's token (VAULT_TOKEN or the LDAP session): reads the policy texts. */
  readonly operatorToken: string;
  /** How the operator signed in, for messages (`VAULT_TOKEN`). */
  readonly via: string;
  /** The token just created, to be proven revoke-only. */
  readonly nodeToken: string;
  /** Where pods log in: writing a role or the config there would let the node grant itself logins. */
  readonly authMount: string;
  /** The node's token role (VAULTTMPFS_ROLE_NAME), sampled: a generator policy grants create on it. */
  readonly roleName: string;
}

/**
 * What keeps the new token from being revoke-only, one line each; empty when
 * it is. Throws `PolicyUnreadableError` when the operator's token cannot read
 * a policy (nothing can then be proven). Any other Vault failure is a problem.
 */
export async function revokeOnlyProblems(input: RevokeOnlyProofInput): Promise<string[]> {
  const { api } = input;
  let self;
  try {
    self = await api.lookupSelf(input.nodeToken);
  } catch (err) {
    return [`it cannot look itself up (${errorMessage(err)})`];
  }
  const problems: string[] = [];
  const identity = self.identity_policies ?? [];
  if (identity.length > 0) problems.push(`it has identity policies ${identity.join(", ")} (from its entity or groups), whose rules bootstrap does not prove`);
  for (const name of self.policies) {
    if (name === "root") {
      problems.push("it is a root token");
      continue;
    }
    let text: string | null;
    try {
      text = await api.readPolicy(input.operatorToken, name);
    } catch (err) {
      if (isVaultStatus(err, 403)) {
        throw new PolicyUnreadableError(`cannot read policy ${name} with ${input.via} (${errorMessage(err)}), so cannot prove the new token mints nothing: add read on sys/policies/acl/${name} to ${BOOTSTRAP_POLICY_FILE} (and "vault policy write" it)`);
      }
      problems.push(`policy ${name} could not be read (${errorMessage(err)})`);
      continue;
    }
    if (text === null) {
      problems.push(`its policy ${name} does not exist (whoever creates it decides what the node may do)`);
      continue;
    }
    let beyond;
    try {
      beyond = grantsBeyond(parsePolicyRules(text), REVOKE_ONLY_PATHS);
    } catch (err) {
      problems.push(`policy ${name} has rules bootstrap cannot read (${errorMessage(err)}), so cannot prove harmless`);
      continue;
    }
    if (beyond.length > 0) problems.push(`policy ${name} grants ${beyond.map((r) => `${r.capabilities.join(",")} on ${r.path}`).join("; ")}`);
  }
  problems.push(...(await sampledProblems(input)));
  return problems;
}

async function sampledProblems(input: RevokeOnlyProofInput): Promise<string[]> {
  const needs = revokeOnlyNeeds();
  const forbidden = mintingPaths(input.authMount, input.roleName);
  let caps: Record<string, string[]>;
  try {
    caps = await input.api.capabilitiesSelf(input.nodeToken, [...needs.map((n) => n.path), ...forbidden]);
  } catch (err) {
    return [`Vault could not say what it may do (${errorMessage(err)})`];
  }
  const unmet = unmetNeeds(needs, caps);
  const minting = writablePaths(forbidden, caps);
  return [...(unmet.length ? [`it is not allowed ${describeNeeds(unmet)}`] : []), ...(minting.length ? [`it may write ${minting.join(", ")}, so it could mint tokens`] : [])];
}

/**
 * The pod identity settings bootstrap --revoke-only works for: the node's,
 * even when the operator's shell lacks VAULTTMPFS_MODE (the token file and
 * auth mount then come from their own variables or defaults, so the checks
 * still cover the auth method pods log in to).
 */
export function revokeOnlyIdentity(config: DriverConfig, env: Env): PodIdentityConfig {
  return config.podIdentity ?? loadPodIdentityConfig((name) => (env[name] === "" ? undefined : env[name]));
}
