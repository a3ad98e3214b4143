/**
 * Runs the doctor's checks in order and decides what to skip: a check whose
 * premise failed (no config, Vault unusable, no valid token) is skipped, so
 * each broken thing shows up as exactly one failure.
 */
import { existsSync, statSync } from "node:fs";
import { loadConfig, type DriverConfig, type NodeTokenFile } from "../../config.ts";
import { services, type Context } from "../../context.ts";
import { errorMessage } from "../../errors.ts";
import { describeNodeToken, readNodeToken } from "../../token/generator.ts";
import type { LookupSelfData, VaultApi } from "../../vault/api.ts";
import type { PodIdentityConfig } from "../../identity/config.ts";
import { generatorNeeds } from "./capabilities.ts";
import { isRoleTemplate } from "../../authz/authorize.ts";
import {
  attempt, checkCapabilities, checkConfig, checkRole, checkTenancy, checkToken, checkTokenFile, checkTls, checkVault, fail, skip,
  type CheckResult, type FileFacts, type HealthProbe,
} from "./checks.ts";
import { checkInstall, checkMountTest, checkMountTools, checkStateDir, type PluginLocation, type RunningBinary } from "./node.ts";

export interface DoctorOptions {
  readonly location: PluginLocation;
  readonly mountTest: boolean;
  readonly self: RunningBinary;
}

const usable = (r: CheckResult) => r.status === "ok" || r.status === "warn";

export async function runDoctor(ctx: Context, opts: DoctorOptions): Promise<CheckResult[]> {
  const loaded = await attempt(async () => loadConfig(ctx.env));
  const config = loaded.ok ? loaded.value : undefined;
  const results = [checkConfig(loaded)];
  if (config) results.push(checkTenancy(config), ...(await vaultChecks(config, ctx)));
  else for (const name of ["tenancy", "tls", "vault", "token-file", "token", "capabilities", "role"] as const) results.push(skip(name, "not checked: the config did not load"));
  results.push(checkInstall(opts.location, opts.self));
  const stateDir = config ? checkStateDir(config.stateDir) : skip("state-dir", "not checked: the config did not load");
  results.push(stateDir, checkMountTools());
  if (opts.mountTest) {
    results.push(config && usable(stateDir) && existsSync(config.stateDir) ? await checkMountTest(config.stateDir, ctx.tmpfs, ctx.now) : skip("mount-test", "not run: needs a usable state dir (see state-dir)"));
  }
  return results;
}

async function probeHealth(api: VaultApi, now: () => number): Promise<HealthProbe> {
  const started = now();
  const outcome = await attempt(() => api.health());
  return { ...outcome, ms: now() - started };
}

function fileFacts(path: string): FileFacts {
  try {
    const st = statSync(path);
    return { uid: st.uid, mode: st.mode, isFile: st.isFile() };
  } catch (err) {
    return { code: (err as NodeJS.ErrnoException).code ?? errorMessage(err) };
  }
}

/** tls, vault, token-file, then token, capabilities and role (token-role mode) or the pod identity checks. */
async function vaultChecks(config: DriverConfig, ctx: Context): Promise<CheckResult[]> {
  const { api } = services(config, ctx);
  const probe = await probeHealth(api, ctx.now);
  const vault = checkVault(config.vault, probe);
  const tokenFile = checkTokenFile(config.nodeToken, fileFacts(config.nodeToken.path));
  const head = [checkTls(config.vault, probe), vault, tokenFile];
  // Decided before anything about Vault: the kube checks of this mode need no Vault, and its checks are not token-role's.
  if (config.podIdentity) {
    return [...head, ...(await podIdentityChecks(api, config, config.podIdentity, usable(vault), tokenFile))];
  }
  if (!usable(vault)) return [...head, ...(["token", "capabilities", "role"] as const).map((n) => skip(n, VAULT_DOWN))];

  const token = await tokenCheck(api, config.nodeToken, tokenFile);
  const generator = usable(token.result) ? token.value : undefined;
  const needs = generatorNeeds(config.roleName);
  const capabilities = generator
    ? checkCapabilities(config.roleName, needs, await attempt(() => api.capabilitiesSelf(generator, needs.map((n) => n.path))))
    : skip("capabilities", "not checked: no usable generator token (see token)");
  return [...head, token.result, capabilities, await roleCheck(api, config, generator)];
}

const VAULT_DOWN = "not checked: Vault is not usable (see tls and vault)";

/**
 * token and capabilities of the revoke-only token, then kubeconfig, kube-api
 * (always: they ask the API server, not Vault) and auth-method instead of the
 * token role.
 */
async function podIdentityChecks(api: VaultApi, config: DriverConfig, identity: PodIdentityConfig, vaultUsable: boolean, tokenFile: CheckResult): Promise<CheckResult[]> {
  const { checkAuthMethod, checkKube, checkRevokeOnlyToken } = await import("./identity.ts");
  const kube = await checkKube(config, identity);
  if (!vaultUsable) return [skip("token", VAULT_DOWN), skip("capabilities", VAULT_DOWN), ...kube, skip("auth-method", VAULT_DOWN)];
  const token = await tokenCheck(api, config.nodeToken, tokenFile);
  const capabilities = usable(token.result) && token.value !== undefined && token.self
    ? await checkRevokeOnlyToken(api, identity, config.roleName, token.value, token.self)
    : skip("capabilities", "not checked: no usable revoke-only token (see token)");
  return [token.result, capabilities, ...kube, await checkAuthMethod(api, identity)];
}

/** Reads the token file (even a too-open one: its token is still worth checking) and asks Vault about it. */
async function tokenCheck(api: VaultApi, file: NodeTokenFile, tokenFile: CheckResult): Promise<{ result: CheckResult; value?: string; self?: LookupSelfData }> {
  let token: string;
  try {
    token = readNodeToken(file, { judgeFile: false }); // the token-file check judges the file
  } catch (err) {
    return { result: usable(tokenFile) ? fail("token", errorMessage(err), `rewrite it: ${describeNodeToken(file).bootstrap} --force`) : skip("token", "not checked: no readable token file (see token-file)") };
  }
  const lookup = await attempt(() => api.lookupSelf(token));
  return { result: checkToken(lookup, file), value: token, ...(lookup.ok ? { self: lookup.value } : {}) };
}

/** Reads the role with VAULT_TOKEN when set (an operator's broader rights), else with the generator token. */
async function roleCheck(api: VaultApi, config: DriverConfig, generator: string | undefined): Promise<CheckResult> {
  if (isRoleTemplate(config.roleName)) return checkRole(config.roleName, "template", "");
  const [reader, who] = config.operatorToken !== undefined ? [config.operatorToken, "VAULT_TOKEN"] : [generator, "generator token"];
  if (reader === undefined) return skip("role", "not checked: no usable generator token and no VAULT_TOKEN (see token)");
  return checkRole(config.roleName, await attempt(() => api.readRole(reader, config.roleName)), who);
}
