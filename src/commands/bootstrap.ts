import { loadConfig, type DriverConfig, type NodeTokenFile } from "../config.ts";
import { services, type Context } from "../context.ts";
import { DriverError, errorMessage } from "../errors.ts";
import { formatSeconds } from "../env/goparse.ts";
import { describeNeeds, generatorNeeds, unmetNeeds } from "../ops/doctor/capabilities.ts";
import { PolicyUnreadableError, revokeOnlyIdentity, revokeOnlyProblems } from "../ops/bootstrap/revoke-only.ts";
import { registerSecret } from "../log/scrub.ts";
import { IDENTITY_ENV } from "../identity/config.ts";
import {
  checkTarget, DEFAULT_POLICY, generatorTokenRequest, parseBootstrapFlags, parsePolicies, parseTokenPath,
  TOKEN_FILE_MODE, writeTokenFile, type BootstrapFlags,
} from "../ops/bootstrap/plan.ts";
import { NO_CREDENTIALS, signIn, type Session } from "../ops/bootstrap/signin.ts";
import { openTerminal, PromptInterrupted, type Prompter } from "../ops/bootstrap/terminal.ts";
import { readNodeToken } from "../token/generator.ts";
import type { SecretAuth, VaultApi } from "../vault/api.ts";
import { isVaultStatus, VaultResponseError } from "../vault/errors.ts";
import type { OperatorIo } from "../ops/flags.ts";
import { octalMode } from "../fsutil/mode.ts";

/**
 * `vaulttmpfs bootstrap`: creates this node's generator token (create-orphan,
 * periodic) and writes it to the token file. Scriptable with VAULT_TOKEN and
 * flags; asks at the terminal for whatever is missing. Exit 0 written,
 * 1 failed (nothing written), 2 bad flags, 130 interrupted at a prompt.
 */
export async function bootstrapCommand(args: readonly string[], ctx: Context, io: OperatorIo): Promise<number> {
  const flags = parseBootstrapFlags(args);
  const config = loadConfig(ctx.env);
  // At once, so no message of this command can carry it, however early it fails.
  registerSecret(config.operatorToken);
  const mustAsk = config.operatorToken === undefined || flags.path === undefined || flags.policies === undefined;
  const term = mustAsk ? openTerminal(ctx.signal) : null;
  if (config.operatorToken === undefined && term === null) {
    io.err(`vaulttmpfs bootstrap: ${NO_CREDENTIALS}\n`);
    return 1;
  }
  try {
    await bootstrap(flags, config, ctx, io, term);
    return 0;
  } catch (err) {
    if (!(err instanceof PromptInterrupted)) throw err;
    io.err(`vaulttmpfs bootstrap: ${err.message}; nothing was created\n`);
    return 130;
  } finally {
    term?.close();
  }
}

async function bootstrap(flags: BootstrapFlags, config: DriverConfig, ctx: Context, io: OperatorIo, term: Prompter | null): Promise<void> {
  // Everything that can refuse locally is settled before the first Vault call, so a refusal mints nothing.
  const [defaultPath, pathVariable] = flags.revokeOnly
    ? [revokeOnlyIdentity(config, ctx.env).revokeTokenPath, IDENTITY_ENV.REVOKE_TOKEN_PATH]
    : [config.generatorTokenPath, "VAULTTMPFS_GENERATOR_TOKEN_PATH"];
  const path = flags.path ?? (term ? parseTokenPath(await term.ask(flags.revokeOnly ? "Revoke-only token file" : "Generator token file", defaultPath), "token file") : defaultPath);
  const previous = checkTarget(path, flags.force) === "replace" ? readPreviousToken({ path, kind: flags.revokeOnly ? "revoke-only" : "generator" }) : undefined;
  const policies = flags.policies ?? (term ? parsePolicies(await term.ask("Policy for the generator token", DEFAULT_POLICY), "policy") : [DEFAULT_POLICY]);
  const { api } = services(config, ctx);
  const session = await signIn(api, { operatorToken: config.operatorToken, ldapMount: flags.ldapMount, username: flags.username }, term);
  registerSecret(session.token); // the LDAP login token (VAULT_TOKEN is registered already)
  let created: SecretAuth;
  try {
    created = await createGenerator(api, session, { policies, periodSeconds: flags.periodSeconds, node: config.nodeName, revokeOnly: flags.revokeOnly });
    registerSecret(created.client_token);
    // Proven while the session lives: its token reads the policy texts.
    if (flags.revokeOnly) await proveRevokeOnlyOrRevoke(api, created, session, { authMount: revokeOnlyIdentity(config, ctx.env).authMount, roleName: config.roleName });
  } finally {
    const warning = await session.end();
    if (warning) io.err(`warning: ${warning}\n`);
  }
  if (!flags.revokeOnly) await checkOrRevoke(api, created, config.roleName, io);
  try {
    writeTokenFile(path, created.client_token, flags.force);
  } catch (err) {
    throw new DriverError(`${errorMessage(err)}; ${await revokeNew(api, created, "the new token")}`);
  }
  report(io, { path, created, session, node: config.nodeName, periodSeconds: flags.periodSeconds, kind: flags.revokeOnly ? "revoke-only" : "generator" });
  if (path !== defaultPath) {
    io.err(`note: the driver reads ${pathVariable} (now ${defaultPath}); set it to ${path} on this node\n`);
  }
  if (previous !== undefined) await notePrevious(api, previous, path, io);
}

async function createGenerator(api: VaultApi, session: Session, opts: { policies: readonly string[]; periodSeconds: number; node: string; revokeOnly: boolean }): Promise<SecretAuth> {
  try {
    return await api.createOrphan(session.token, generatorTokenRequest({ ...opts, creator: session.creator }));
  } catch (err) {
    throw new DriverError(`cannot create the generator token with ${session.via}: ${errorMessage(err)}${hintFor(err)}`);
  }
}

/** Vault's text says what failed; this says which file fixes it. */
function hintFor(err: unknown): string {
  const sudo = "; the bootstrap policy needs sudo on auth/token/create-orphan (policies/bootstrap_policy.hcl)";
  if (isVaultStatus(err, 403)) return "; the token or LDAP user needs the policy in policies/bootstrap_policy.hcl";
  if (err instanceof VaultResponseError && err.errors.some((e) => /sudo privileges|subset of parent/.test(e))) return sudo;
  return "";
}

/**
 * Asks Vault what the new token may do, before it is written: a token whose
 * policy is misspelt or missing is useless and would overwrite a working one
 * under --force, so it is revoked instead.
 */
async function checkOrRevoke(api: VaultApi, created: SecretAuth, roleName: string, io: OperatorIo): Promise<void> {
  const needs = generatorNeeds(roleName);
  let unmet;
  try {
    unmet = unmetNeeds(needs, await api.capabilitiesSelf(created.client_token, needs.map((n) => n.path)));
  } catch (err) {
    io.err(`warning: could not check what the new token may do (${errorMessage(err)}); run "vaulttmpfs doctor"\n`);
    return;
  }
  const sampled = unmet.filter((n) => n.sampled);
  if (sampled.length > 0) io.err(`warning: the new token is not allowed ${describeNeeds(sampled)}; with a templated role this can only be checked per namespace\n`);
  const blocking = unmet.filter((n) => !n.sampled);
  if (blocking.length === 0) return;
  const policies = (created.token_policies ?? created.policies ?? []).join(", ");
  throw new DriverError(`the new token (policies ${policies}) is not allowed ${describeNeeds(blocking)}: does the policy exist and grant this? ${await revokeNew(api, created, "It")} and nothing was written`);
}

/**
 * A revoke-only token must revoke and renew, and must not be able to mint:
 * if its policies let it create a token (or write a login role, a policy, an
 * auth method), writing it would put on the node exactly the secret pod
 * identity mode removes. Anything short of proof revokes it.
 */
async function proveRevokeOnlyOrRevoke(api: VaultApi, created: SecretAuth, session: Session, opts: { authMount: string; roleName: string }): Promise<void> {
  let problems: string[];
  try {
    problems = await revokeOnlyProblems({ api, operatorToken: session.token, via: session.via, nodeToken: created.client_token, ...opts });
  } catch (err) {
    const revoked = await revokeNew(api, created, "The new token");
    if (err instanceof PolicyUnreadableError) throw new DriverError(`${err.message}. ${revoked} and nothing was written`);
    throw err;
  }
  if (problems.length === 0) return;
  const policies = (created.token_policies ?? created.policies ?? []).join(", ");
  throw new DriverError(`the new token (policies ${policies}) is not provably revoke-only: ${problems.join("; ")}. Use only policies/revoke_only_policy.hcl. ${await revokeNew(api, created, "It")} and nothing was written`);
}

/**
 * Takes back a token bootstrap will not write (revoke-self: the operator's
 * policy may revoke nothing else). Says whether it worked: a token made
 * without the default policy and without the shipped policy cannot revoke
 * itself, and then the operator must, by its accessor (never a secret).
 */
async function revokeNew(api: VaultApi, created: SecretAuth, subject: string): Promise<string> {
  try {
    await api.revokeSelf(created.client_token);
    return `${subject} was revoked`;
  } catch (err) {
    return `${subject} could not revoke itself (${errorMessage(err)}): revoke it with "vault token revoke -accessor ${created.accessor}"`;
  }
}

function readPreviousToken(file: NodeTokenFile): string | undefined {
  try {
    return readNodeToken(file);
  } catch {
    return undefined;
  }
}

/** The replaced token is not revoked (other nodes may share it); say how to, once it is unused. */
async function notePrevious(api: VaultApi, previous: string, path: string, io: OperatorIo): Promise<void> {
  try {
    const old = await api.lookupSelf(previous);
    io.err(`note: the token previously in ${path} (accessor ${old.accessor}) stays valid for ${formatSeconds(old.ttl)}; once no node uses it: vault token revoke -accessor ${old.accessor}\n`);
  } catch {
    // already invalid: nothing to clean up
  }
}

function report(io: OperatorIo, r: { path: string; created: SecretAuth; session: Session; node: string; periodSeconds: number; kind: "generator" | "revoke-only" }): void {
  const { created } = r;
  const policies = created.token_policies ?? created.policies ?? [];
  io.out(
    [
      `${r.kind} token for node ${r.node} written to ${r.path} (mode ${octalMode(TOKEN_FILE_MODE)})`,
      `  accessor  ${created.accessor}`,
      `  policies  ${policies.join(", ")}`,
      `  ttl       ${formatSeconds(created.lease_duration)}, periodic ${formatSeconds(r.periodSeconds)}${created.renewable ? ", renewable" : ", NOT renewable"}`,
      `  created   with ${r.session.via}`,
      "",
    ].join("\n"),
  );
  if (created.lease_duration < r.periodSeconds) {
    io.err(`warning: Vault granted ${formatSeconds(created.lease_duration)}, less than --period ${formatSeconds(r.periodSeconds)} (capped by the token mount's max TTL)\n`);
  }
}
