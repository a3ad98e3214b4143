/**
 * Doctor's checks for pod identity mode: the revoke-only token may revoke and
 * mint nothing; the kubelet's kubeconfig is readable; the API server knows
 * this node by the kubelet's certificate; the Vault auth method and the login
 * role exist. None of them sends a secret: the login probe uses a JWT that
 * is not one, and only reads which refusal Vault gives.
 */
import type { DriverConfig } from "../../config.ts";
import { errorMessage } from "../../errors.ts";
import type { PodIdentityConfig } from "../../identity/config.ts";
import { loadKubeconfig, readKubeTls } from "../../kube/kubeconfig.ts";
import { readOwnNode } from "../../kube/token-request.ts";
import type { LookupSelfData, VaultApi } from "../../vault/api.ts";
import { VaultResponseError, flattenGoMultiError } from "../../vault/errors.ts";
import { isRoleTemplate } from "../../authz/authorize.ts";
import { describeNeeds, mintingPaths, REVOKE_ONLY_POLICY, revokeOnlyNeeds, sampleRole, unmetNeeds, writablePaths } from "./capabilities.ts";
import { attempt, fail, ok, warn, type CheckResult, type Outcome } from "./checks.ts";

const POLICY_FILE = "policies/revoke_only_policy.hcl";

/** The node token's policies, as lookup-self showed them. */
export type TokenPolicies = Pick<LookupSelfData, "policies" | "identity_policies">;

/**
 * Pure verdict on the revoke-only token: its policies and what
 * sys/capabilities-self said. Doctor runs with this token, which may not read
 * policy texts, so it cannot prove a policy other than the shipped one
 * harmless: any other policy fails, `default` included (bootstrap leaves it
 * out: a widened `default` is invisible to sampling), as does an identity
 * policy; the sampled paths catch the shipped policy name given a wider text.
 */
export function judgeRevokeOnly(identity: PodIdentityConfig, roleName: string, self: TokenPolicies, caps: Outcome<Record<string, string[]>>): CheckResult {
  const extra = self.policies.filter((p) => p !== REVOKE_ONLY_POLICY);
  const viaIdentity = self.identity_policies ?? [];
  if (extra.length > 0 || viaIdentity.length > 0) {
    const which = [...(extra.length ? [`policies ${extra.join(", ")}`] : []), ...(viaIdentity.length ? [`identity policies ${viaIdentity.join(", ")}`] : [])].join(" and ");
    return fail("capabilities", `the node token also has ${which}: doctor cannot prove it mints nothing (it may not read policy texts)`, `replace it with a token holding only ${REVOKE_ONLY_POLICY} (${POLICY_FILE}): vaulttmpfs bootstrap --revoke-only --force, which proves the policy texts, then revoke the old one`);
  }
  if (!caps.ok) return fail("capabilities", `cannot ask Vault what the revoke-only token may do: ${errorMessage(caps.error)}`, `the token needs sys/capabilities-self, which ${POLICY_FILE} grants: vaulttmpfs bootstrap --revoke-only --force`);
  const unmet = unmetNeeds(revokeOnlyNeeds(), caps.value);
  if (unmet.length > 0) return fail("capabilities", `the revoke-only token may not: ${describeNeeds(unmet)}`, `grant them with ${POLICY_FILE}: vaulttmpfs bootstrap --revoke-only --force`);
  const forbidden = mintingPaths(identity.authMount, roleName);
  const minting = writablePaths(forbidden, caps.value);
  if (minting.length > 0) {
    return fail("capabilities", `the node token may write ${minting.join(", ")}: it can mint tokens, which pod identity mode exists to avoid`, `replace it with a token holding only ${POLICY_FILE}: vaulttmpfs bootstrap --revoke-only --force, then revoke the old one`);
  }
  return ok("capabilities", `policies ${self.policies.join(", ")}; may revoke accessors and renew itself; may create no token (${forbidden.join(", ")} denied)`);
}

export async function checkRevokeOnlyToken(api: VaultApi, identity: PodIdentityConfig, roleName: string, token: string, self: TokenPolicies): Promise<CheckResult> {
  const paths = [...revokeOnlyNeeds().map((n) => n.path), ...mintingPaths(identity.authMount, roleName)];
  return judgeRevokeOnly(identity, roleName, self, await attempt(() => api.capabilitiesSelf(token, paths)));
}

/** kubeconfig, then kube-api: the API server answers the kubelet's certificate as this node. */
export async function checkKube(config: DriverConfig, identity: PodIdentityConfig): Promise<CheckResult[]> {
  let target;
  try {
    target = loadKubeconfig(identity.kubeconfig);
    readKubeTls(target);
  } catch (err) {
    return [
      fail("kubeconfig", errorMessage(err), `point VAULTTMPFS_KUBECONFIG at the kubelet's kubeconfig (kubeadm: /etc/kubernetes/kubelet.conf; k3s: /var/lib/rancher/k3s/agent/kubelet.kubeconfig)`),
      { name: "kube-api", status: "skip", detail: "not checked: no usable kubeconfig" },
    ];
  }
  const head = ok("kubeconfig", `${identity.kubeconfig}: server ${target.server}, client certificate ${"file" in target.clientCert ? target.clientCert.file : "inline"}`);
  const node = await attempt(() => readOwnNode(target, config.nodeName));
  if (node.ok) return [head, ok("kube-api", `${target.server} knows this kubelet as node ${node.value.name}; TokenRequest for audience ${JSON.stringify(identity.audience)} is allowed for pods bound to it`)];
  return [head, fail("kube-api", errorMessage(node.error), `check that VAULTTMPFS_NODE_NAME (${config.nodeName}) is the kubelet's node name and that the API server runs the Node authorizer`)];
}

/**
 * Logs in with the login role and a JWT that is not one: Vault names an
 * unknown role ("invalid role name", "could not be found") before it looks at
 * the JWT, and an unmounted method has no login route at all.
 */
export async function checkAuthMethod(api: VaultApi, identity: PodIdentityConfig): Promise<CheckResult> {
  const templated = isRoleTemplate(identity.loginRole);
  const role = sampleRole(identity.loginRole);
  const probe = await attempt(() => api.login(identity.authMount, role, "doctor.probe.not-a-jwt", undefined));
  const where = `auth/${identity.authMount}`;
  if (probe.ok) return fail("auth-method", `${where}/login accepted a JWT that is not one`, "the auth method is misconfigured: check its config (pem_keys, jwt_validation_pubkeys) now");
  const err = probe.error;
  if (!(err instanceof VaultResponseError)) return fail("auth-method", errorMessage(err), "see the vault check");
  const text = err.errors.map(flattenGoMultiError).join("; ");
  if (err.status === 404 || /no handler for route|unsupported path/.test(text)) {
    return fail("auth-method", `no auth method at ${where} (${text || err.status})`, `vault auth enable -path=${identity.authMount} kubernetes (or jwt); see README "Pod identity mode"`);
  }
  if (/invalid role name|could not be found/.test(text)) {
    const detail = `${where} is mounted but has no role ${JSON.stringify(role)} (${text})`;
    return templated
      ? warn("auth-method", `${detail}; the login role is the template ${identity.loginRole}, checked for namespace/service account "default" only`, `create a role per namespace: vault write ${where}/role/<namespace> ...`)
      : fail("auth-method", `${detail}: every mount fails`, `vault write ${where}/role/${role} ... (see README "Pod identity mode")`);
  }
  return ok("auth-method", `${where} is mounted and has role ${JSON.stringify(role)}${templated ? ` (template ${identity.loginRole})` : ""}; a bad JWT is refused (${text})`);
}
