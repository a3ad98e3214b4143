/**
 * The verdicts of `vaulttmpfs doctor` about config, Vault and the node's
 * token (the generator, or the revoke-only token). Each function is pure: it gets what was observed (a stat, Vault's
 * answer or error) and returns one result with a reason and a fix; the calls
 * themselves are made in doctor-run.ts.
 */
import type { DriverConfig, NodeTokenFile, VaultConfig } from "../../config.ts";
import { describeNodeToken, nodeTokenFileProblem } from "../../token/generator.ts";
import { ConfigError, errorMessage } from "../../errors.ts";
import { formatSeconds } from "../../env/goparse.ts";
import type { HealthStatus, LookupSelfData, RoleData } from "../../vault/api.ts";
import { VaultNetworkError, VaultResponseError, VaultTimeoutError, VaultTlsError, flattenGoMultiError, isVaultStatus } from "../../vault/errors.ts";
import { ambiguousPatterns } from "../../authz/authorize.ts";
import { describeNeeds, sampleRole, unmetNeeds, type CapabilityNeed } from "./capabilities.ts";
import { octalMode } from "../../fsutil/mode.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";
export type CheckName =
  | "config" | "tenancy" | "tls" | "vault" | "token-file" | "token" | "capabilities" | "role"
  | "install" | "state-dir" | "mount-tools" | "mount-test"
  /** Pod identity mode only. */
  | "kubeconfig" | "kube-api" | "auth-method";

export interface CheckResult {
  readonly name: CheckName;
  readonly status: CheckStatus;
  /** One line: what was found. Never a token. */
  readonly detail: string;
  /** One line: what to do; absent when nothing needs doing. */
  readonly fix?: string;
}

export const ok = (name: CheckName, detail: string): CheckResult => ({ name, status: "ok", detail });
export const skip = (name: CheckName, detail: string): CheckResult => ({ name, status: "skip", detail });
export const warn = (name: CheckName, detail: string, fix: string): CheckResult => ({ name, status: "warn", detail, fix });
export const fail = (name: CheckName, detail: string, fix: string): CheckResult => ({ name, status: "fail", detail, fix });

/** A Vault call's result or its error, so verdicts stay pure. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

export type HealthProbe = Outcome<{ readonly status: number; readonly health: HealthStatus | null }> & { readonly ms: number };

/** The Vault text of an error (`permission denied`), without our method/path prefix. */
function vaultText(err: unknown): string {
  return err instanceof VaultResponseError ? err.errors.map(flattenGoMultiError).join("; ") || `HTTP ${err.status}` : errorMessage(err);
}

export function checkConfig(result: Outcome<DriverConfig>): CheckResult {
  if (!result.ok) {
    const variable = result.error instanceof ConfigError ? result.error.variable : "the VAULT_*/VAULTTMPFS_* variables";
    return fail("config", errorMessage(result.error), `correct ${variable} in the environment the kubelet gives the driver`);
  }
  const c = result.value;
  const addr = c.vault.unixSocket ? `unix://${c.vault.unixSocket}` : c.vault.address;
  // In pod identity mode VAULTTMPFS_ROLE_NAME is not used: naming it would point at the wrong setting.
  if (c.podIdentity) return ok("config", `${addr}, mode pod-identity, login role ${c.podIdentity.loginRole} at auth/${c.podIdentity.authMount}, node ${c.nodeName}, revoke-only token ${c.nodeToken.path}`);
  return ok("config", `${addr}, role ${c.roleName}, node ${c.nodeName}, token file ${c.nodeToken.path}`);
}

/** The node's authorization rules: warns about patterns one namespace could use to reach another's policies or roles. */
export function checkTenancy(c: DriverConfig): CheckResult {
  // The role pods get by default: the login role in pod identity mode (VAULTTMPFS_ROLE_NAME is not used there).
  const [role, roleVariable, what] = c.podIdentity ? [c.podIdentity.loginRole, "VAULTTMPFS_LOGIN_ROLE", "login role"] : [c.roleName, "VAULTTMPFS_ROLE_NAME", "role"];
  // Roles fail: a shared role is a shared set of policies and limits. (loadConfig already refuses a colliding template.)
  const riskyRoles = ambiguousPatterns([role, ...(c.allowedRoles ?? [])]);
  if (riskyRoles.length > 0) {
    return fail("tenancy", `roles ${riskyRoles.join(", ")}: a placeholder is followed by a character names can contain, so two tenants can reach the same role (namespace "team" also gets the roles of namespace "team-a")`, `separate placeholders with '_' (namespaces have none): ${roleVariable}=k8s_{namespace}_{serviceaccount}, VAULTTMPFS_ALLOWED_ROLES={namespace}_*`);
  }
  const risky = ambiguousPatterns(c.allowedPolicies);
  if (risky.length > 0) {
    return warn("tenancy", `${risky.join(", ")}: a placeholder is followed by a character names can contain, so namespace "team" also matches names of namespace "team-a"`, "separate placeholders with '.' or '_' (namespaces have neither): VAULTTMPFS_ALLOWED_POLICIES={namespace}.*, roles k8s_{namespace}");
  }
  const scope = c.allowedPolicies.includes("*") ? "any policy the role allows (VAULTTMPFS_ALLOWED_POLICIES=*)" : `policies matching ${c.allowedPolicies.join(", ")}`;
  return ok("tenancy", `pods may request ${scope}; ${what} ${role}${c.allowedRoles === null ? " (no vault/role override)" : ""}`);
}

function trustSource(v: VaultConfig): string {
  if (!v.ca) return "the system CA store";
  if ("file" in v.ca) return `VAULT_CACERT=${v.ca.file}`;
  return "dir" in v.ca ? `VAULT_CAPATH=${v.ca.dir}` : "VAULT_CACERT_BYTES";
}

export function checkTls(v: VaultConfig, probe: HealthProbe): CheckResult {
  if (v.unixSocket) return ok("tls", `unix socket ${v.unixSocket}: no TLS on a local socket`);
  if (!probe.ok) {
    const e = probe.error;
    const name = `VAULT_TLS_SERVER_NAME (${v.tlsServerName ?? "unset"})`;
    if (e instanceof VaultTlsError) return fail("tls", `TLS with ${v.address} failed (${e.code}); trusting ${trustSource(v)}`, `point VAULT_CACERT at the CA that signed Vault's certificate and check ${name} is a name in it`);
    if (e instanceof ConfigError) return fail("tls", e.message, `correct ${e.variable}`);
    return skip("tls", "not checked: Vault did not answer (see vault)");
  }
  if (v.address.startsWith("http:")) return warn("tls", `VAULT_ADDR ${v.address} is plain http: tokens cross the network unencrypted`, "use https:// and set VAULT_CACERT");
  if (v.skipVerify) return warn("tls", "VAULT_SKIP_VERIFY is on: Vault's certificate is not checked, anyone in the path can read the tokens", "unset VAULT_SKIP_VERIFY and set VAULT_CACERT to Vault's CA");
  return ok("tls", `certificate verified with ${trustSource(v)}${v.tlsServerName ? `, server name ${v.tlsServerName}` : ""}`);
}

export function checkVault(v: VaultConfig, probe: HealthProbe): CheckResult {
  const addr = v.unixSocket ? `unix://${v.unixSocket}` : v.address;
  if (!probe.ok) {
    const e = probe.error;
    if (e instanceof VaultTlsError || e instanceof ConfigError) return skip("vault", "not reached: TLS failed (see tls)");
    if (e instanceof VaultTimeoutError) return fail("vault", `no answer from ${addr} within ${v.timeoutMs === null ? "the deadline" : formatSeconds(v.timeoutMs / 1000)}`, "check that Vault is up and reachable from this node (firewall, proxy), or raise VAULT_CLIENT_TIMEOUT");
    if (e instanceof VaultNetworkError) return fail("vault", `cannot reach ${addr} (${e.code})`, `start Vault or correct VAULT_ADDR (now ${addr})`);
    if (e instanceof VaultResponseError) return fail("vault", `${addr} answered sys/health with ${e.status}: ${vaultText(e)}`, "point VAULT_ADDR at Vault's API address (scheme, host and port only)");
    return fail("vault", `sys/health on ${addr} failed: ${errorMessage(e)}`, "check VAULT_ADDR");
  }
  const { status, health: h } = probe.value;
  if (!h) return fail("vault", `${addr} answered sys/health with ${status} and no health data`, "point VAULT_ADDR at Vault's API address");
  const state = `${addr}: ${h.initialized ? "initialized" : "NOT initialized"}, ${h.sealed ? "SEALED" : "unsealed"}, ${h.standby ? "standby" : "active"}, version ${h.version} (${probe.ms} ms)`;
  if (!h.initialized) return fail("vault", state, "initialize Vault: vault operator init");
  if (h.sealed) return fail("vault", state, "unseal Vault: vault operator unseal (every mount fails until then)");
  if (status === 472) return fail("vault", `${state}, DR secondary`, "a DR secondary serves no tokens: point VAULT_ADDR at the primary cluster");
  if (h.standby || h.performance_standby) return warn("vault", state, "point VAULT_ADDR at the active node or the cluster's address, so a standby's outage does not stop mounts");
  return ok("vault", state);
}

/** What `stat` said about the token file: its owner and mode, or the error code. */
export type FileFacts = { readonly uid: number; readonly mode: number; readonly isFile: boolean } | { readonly code: string };

/** The node token file by the driver's own rule (nodeTokenFileProblem): what the driver would refuse, doctor fails. */
export function checkTokenFile(file: NodeTokenFile, facts: FileFacts): CheckResult {
  const { path } = file;
  const { name, bootstrap, variable } = describeNodeToken(file);
  if ("code" in facts) {
    if (facts.code === "ENOENT") return fail("token-file", `no ${name} at ${path}`, `create it: ${bootstrap} (or set ${variable})`);
    return fail("token-file", `cannot stat ${path} (${facts.code})`, "run doctor as root");
  }
  const problem = nodeTokenFileProblem(file, { uid: facts.uid, mode: facts.mode, isFile: () => facts.isFile });
  if (problem) return fail("token-file", `${problem.detail}: the driver refuses it`, problem.fix);
  return ok("token-file", `${path}: root-owned, mode ${octalMode(facts.mode)}`);
}

export function checkToken(lookup: Outcome<LookupSelfData>, file: NodeTokenFile): CheckResult {
  const { name, bootstrap } = describeNodeToken(file);
  if (!lookup.ok) {
    if (isVaultStatus(lookup.error, 403)) return fail("token", `Vault refuses the ${name}: revoked, expired or not a token (${vaultText(lookup.error)})`, `create a new one: ${bootstrap} --force`);
    return fail("token", errorMessage(lookup.error), `create a new one with ${bootstrap} --force, or see the vault check`);
  }
  const t = lookup.value;
  const period = t.period ?? 0;
  const detail = `ttl ${formatSeconds(t.ttl)}, ${period > 0 ? `periodic ${formatSeconds(period)}` : "not periodic"}, ${t.renewable ? "renewable" : "not renewable"}, policies ${t.policies.join(", ")}`;
  const replace = `replace it with a periodic token: ${bootstrap} --force`;
  if (t.policies.includes("root")) return fail("token", `the ${name} is a root token: ${detail}`, `${replace} (never root on a node)`);
  if (t.expire_time === null) return warn("token", `the ${name} never expires: ${detail}`, replace);
  if (period === 0 && !t.renewable) return warn("token", `not renewable, expires in ${formatSeconds(t.ttl)}: ${detail}`, replace);
  if (period === 0 && t.ttl < 3600) return warn("token", `expires in ${formatSeconds(t.ttl)} and is not periodic: ${detail}`, replace);
  return ok("token", detail);
}

export function checkCapabilities(roleName: string, needs: readonly CapabilityNeed[], caps: Outcome<Record<string, string[]>>): CheckResult {
  if (!caps.ok) {
    if (isVaultStatus(caps.error, 403)) return warn("capabilities", `cannot ask Vault what the generator token may do (${vaultText(caps.error)})`, "grant update on sys/capabilities-self to the generator's policy (policies/token_generator_policy.hcl)");
    return fail("capabilities", errorMessage(caps.error), "see the vault check");
  }
  const unmet = unmetNeeds(needs, caps.value);
  const blocking = unmet.filter((n) => !n.sampled);
  const grant = "grant them in the generator token's policy (policies/token_generator_policy.hcl)";
  if (blocking.length > 0) return fail("capabilities", `the generator token may not: ${describeNeeds(blocking)}`, grant);
  const sample = needs.some((n) => n.sampled) ? ` (role template ${roleName} checked as ${sampleRole(roleName)})` : "";
  if (unmet.length > 0) return warn("capabilities", `not allowed ${describeNeeds(unmet)}${sample}; a templated role can only be checked per namespace`, `${grant}, for each namespace's role`);
  return ok("capabilities", `may create on ${needs[0]?.path ?? "?"}${sample}, revoke accessors, renew itself`);
}

export function checkRole(roleName: string, read: Outcome<RoleData | null> | "template", reader: string): CheckResult {
  if (read === "template") return skip("role", `${roleName} is a template, one role per namespace: check one with vault read auth/token/roles/${sampleRole(roleName)}`);
  if (!read.ok) {
    if (isVaultStatus(read.error, 403)) return warn("role", `cannot read auth/token/roles/${roleName} with the ${reader} (${vaultText(read.error)})`, `grant read on auth/token/roles/${roleName} to the generator (policies/token_generator_policy.hcl), or run doctor with VAULT_TOKEN set`);
    return fail("role", errorMessage(read.error), "see the vault check");
  }
  if (read.value === null) return fail("role", `role ${roleName} does not exist: every mount fails with "unknown role ${roleName}"`, `vault write auth/token/roles/${roleName} @policies/roles/applications.json (see policies/roles/README.md)`);
  return judgeRole(roleName, read.value);
}

function judgeRole(roleName: string, r: RoleData): CheckResult {
  const allowed = [...(r.allowed_policies ?? []), ...(r.allowed_policies_glob ?? [])];
  const summary = `role ${roleName}: allowed policies ${allowed.join(", ") || "(none)"}; ${r.orphan ? "orphan" : "NOT orphan"}; period ${r.token_period ? formatSeconds(r.token_period) : "none"}${r.token_explicit_max_ttl ? `; explicit max TTL ${formatSeconds(r.token_explicit_max_ttl)}` : ""}`;
  const problems: string[] = [];
  const fields: string[] = [];
  if (!r.orphan) {
    problems.push("pod tokens are children of the generator token and die when it is revoked or replaced");
    fields.push("orphan=true");
  }
  if (!r.token_period && !r.token_explicit_max_ttl) {
    problems.push("no token_period or token_explicit_max_ttl: pod tokens live up to the mount's max TTL");
    fields.push("token_period=1h");
  }
  if (allowed.length === 0) {
    problems.push("no allowed_policies: a pod may get any policy of the generator token");
    fields.push("allowed_policies=<policies pods may ask for>");
  }
  if (problems.length === 0) return ok("role", summary);
  return warn("role", `${summary}; ${problems.join("; ")}`, `vault write auth/token/roles/${roleName} ${fields.join(" ")}`);
}
