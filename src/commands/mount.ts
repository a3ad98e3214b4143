import { mkdirSync } from "node:fs";
import { authorizePolicies, resolveRole } from "../authz/authorize.ts";
import { loadConfig, type DriverConfig } from "../config.ts";
import { services, type Context, type Services } from "../context.ts";
import { DriverError, ForbiddenError, MountError, errorMessage } from "../errors.ts";
import { parseMountArgs, type MountRequest } from "../flex/options.ts";
import { checkOwnDriver } from "../flex/podpath.ts";
import { success, type DriverResult } from "../flex/protocol.ts";
import type { JournalEntry } from "../state/journal.ts";
import { describeNodeToken, readNodeToken, RENEWAL_LOCK_FILE, renewNodeTokenIfDue } from "../token/generator.ts";
import { mintPodToken, UnexpectedResponseError, type MintedToken } from "../token/mint.ts";
import { revokePodToken } from "../token/revoke.ts";
import { emptyDir, hasTokenFile, writeVolumeFiles } from "../volume/files.ts";
import { ensurePrivateStagingRoot, finishStaging, prepareStaging, removeStaging, stagingDir } from "../volume/staging.ts";
import { isOurs } from "../volume/tmpfs.ts";
import { requireRealVolumePath } from "../volume/real-dir.ts";
import { planOwnership } from "../volume/plan.ts";
import { MODE_ENV, parseMode } from "../identity/config.ts";
import { planLoginRole } from "../identity/plan.ts";

/** What mount will do, decided before any side effect. */
interface MountPlan {
  readonly req: MountRequest;
  readonly role: string;
  readonly wrapTTL: string | undefined;
  readonly ttlSeconds: number | undefined;
}

/** Validation only: options against the node's config and authorization rules. No disk, no network. */
export function planMount(req: MountRequest, config: DriverConfig): MountPlan {
  authorizePolicies(req.policies, config.allowedPolicies, req.pod);
  const role = config.podIdentity
    ? planLoginRole(req, config, config.podIdentity)
    : resolveRole({ defaultRole: config.roleName, requested: req.role, allowedRoles: config.allowedRoles, pod: req.pod });
  if (req.ttlSeconds !== undefined && config.maxTtlSeconds !== null && req.ttlSeconds > config.maxTtlSeconds) {
    throw new ForbiddenError(`vault/ttl of ${req.ttlSeconds}s exceeds this node's maximum of ${config.maxTtlSeconds}s (VAULTTMPFS_MAX_TTL)`);
  }
  if (!req.unwrap && config.vault.wrapSeconds === 0) {
    throw new DriverError("response wrapping is off (VAULT_WRAP_TTL=0) and the pod did not ask for vault/unwrap; set VAULT_WRAP_TTL (e.g. 5m)");
  }
  return { req, role, wrapTTL: req.unwrap ? undefined : config.vault.wrapTTL, ttlSeconds: req.ttlSeconds };
}

export async function mountCommand(args: readonly string[], ctx: Context): Promise<DriverResult> {
  // In pod identity mode the Vault role decides the policies: vault/policies becomes optional.
  // The mode is parsed strictly here: a misspelt one must fail naming VAULTTMPFS_MODE, not as a missing vault/policies.
  const req = parseMountArgs(args, { policiesRequired: parseMode(ctx.env[MODE_ENV]) === "token-role" });
  checkOwnDriver(req.volume, ctx.driverDir);
  Object.assign(ctx.trace, {
    dir: req.volume.dir,
    namespace: req.pod.namespace,
    pod: req.pod.name,
    podUid: req.pod.uid,
    serviceAccount: req.pod.serviceAccount,
    policies: req.policies,
  });
  const config = loadConfig(ctx.env);
  const plan = planMount(req, config);
  ctx.trace.role = plan.role;

  const svc = services(config, ctx);
  const key = plan.req.volume;
  const lock = await svc.journal.lockVolume(key);
  try {
    const dir = key.dir;
    requireRealVolumePath(dir, key.kubeletRoot);
    const existing = ctx.tmpfs.mountAt(dir);
    if (existing && !isOurs(existing)) {
      throw new MountError(`${dir} is already a ${existing.fsType} mount (source ${JSON.stringify(existing.source)}) that this driver did not make; refusing to touch it`);
    }
    if (existing && hasTokenFile(dir, config.tokenFileName)) {
      ctx.trace.detail = "already mounted";
      return success();
    }
    if (ctx.tmpfs.mountsBelow(dir).length > 0) throw new MountError(`${dir} has mounts below it; refusing to mount over them`);
    // Our mount without a token (a volume made before staging existed, or by hand): start over.
    if (existing) await ctx.tmpfs.unmount(dir);
    const nodeToken = readNodeToken(config.nodeToken);
    await revokeEarlierAttempt(svc, nodeToken, svc.journal.get(key));
    emptyDir(dir);
    await renewNodeToken(svc, config, nodeToken, ctx);
    const minted = await mint(svc, plan, config, nodeToken, ctx);
    ctx.trace.accessor = minted.accessor;
    await materialise(svc, plan, config, nodeToken, minted, ctx);
    return success();
  } finally {
    lock.release();
  }
}

async function revokeEarlierAttempt(svc: Services, nodeToken: string, entry: JournalEntry | undefined): Promise<void> {
  if (!entry) return;
  try {
    await revokePodToken(svc.api, nodeToken, entry);
  } catch (err) {
    throw new DriverError(`cannot revoke the token of an earlier mount attempt of this volume: ${errorMessage(err)}`);
  }
  svc.journal.remove(entry);
}

async function renewNodeToken(svc: Services, config: DriverConfig, token: string, ctx: Context): Promise<void> {
  // Token-role mode's trace says "generator renewed", as it always has.
  const who = config.nodeToken.kind === "generator" ? "generator" : describeNodeToken(config.nodeToken).name;
  try {
    const outcome = await renewNodeTokenIfDue({
      api: svc.api,
      token,
      tokenPath: config.nodeToken.path,
      stateDir: config.stateDir,
      lockPath: svc.journal.lockPath(RENEWAL_LOCK_FILE),
      now: ctx.now,
    });
    if (outcome.kind !== "skipped") ctx.trace.detail = `${who} ${outcome.kind}`;
  } catch (err) {
    // The create call below is what decides the mount; a failed renewal only warns.
    ctx.trace.detail = `${who} renewal failed: ${errorMessage(err)}`;
  }
}

async function mint(svc: Services, plan: MountPlan, config: DriverConfig, nodeToken: string, ctx: Context): Promise<MintedToken> {
  try {
    if (config.podIdentity) {
      const { obtainPodToken } = await import("../identity/obtain.ts");
      return await obtainPodToken({ api: svc.api, identity: config.podIdentity, req: plan.req, role: plan.role, wrapTTL: plan.wrapTTL, signal: ctx.signal });
    }
    return await mintPodToken({ api: svc.api, generatorToken: nodeToken, role: plan.role, req: plan.req, node: config.nodeName, wrapTTL: plan.wrapTTL, ttlSeconds: plan.ttlSeconds });
  } catch (err) {
    if (err instanceof UnexpectedResponseError && err.accessor) {
      await revokePodToken(svc.rollbackApi, nodeToken, { accessor: err.accessor }).catch(() => {});
    }
    throw err;
  }
}

/**
 * Journal first; then the tmpfs is built on a staging dir and moved onto the
 * pod's dir only once complete. Any failure undoes all of it and
 * revokes the token, with a client that a SIGTERM cannot abort.
 */
async function materialise(svc: Services, plan: MountPlan, config: DriverConfig, nodeToken: string, minted: MintedToken, ctx: Context): Promise<void> {
  const { req } = plan;
  const dir = req.volume.dir;
  const stage = stagingDir(config.stateDir, req.volume);
  const now = new Date(ctx.now()).toISOString();
  const entry: JournalEntry = {
    version: 1, podUid: req.pod.uid, volumeName: req.volume.volumeName, dir,
    namespace: req.pod.namespace, pod: req.pod.name, serviceAccount: req.pod.serviceAccount,
    role: plan.role, policies: req.policies, accessor: minted.accessor, wrappingAccessor: minted.wrappingAccessor,
    createdAt: now, ttlSeconds: minted.ttlSeconds, state: "active", attempts: 0, lastError: undefined, updatedAt: now,
  };
  let journaled = false;
  try {
    svc.journal.put(entry);
    journaled = true;
    await minted.checkAfterJournal?.(nodeToken);
    const owner = planOwnership(req);
    await ensurePrivateStagingRoot(config.stateDir, ctx.tmpfs, svc.journal.lockPath("staging-root.lock"));
    await prepareStaging(stage, ctx.tmpfs);
    await ctx.tmpfs.mount({ dir: stage, mode: owner.dirMode, uid: owner.uid, gid: owner.gid });
    writeVolumeFiles(stage, config.tokenFileName, minted.fileToken, minted.fileJson, owner);
    if (req.readOnly) await ctx.tmpfs.remountReadOnly(stage);
    if (ctx.signal.aborted) throw new DriverError("interrupted by a signal before the volume was ready");
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    requireRealVolumePath(dir, req.volume.kubeletRoot); // mount(8) would follow a link swapped in meanwhile
    await ctx.tmpfs.move(stage, dir);
    await finishStaging(stage).catch(() => {}); // an empty dir; a leftover goes at unmount or the next mount
  } catch (err) {
    // Judge by the mount table, not by how far we think we got: a `mount --move` killed
    // (or timed out) after it took effect still left a mount, which the kubelet would take
    // for a finished volume. Under the volume lock, our mount at `dir` can only be this attempt's.
    if (isOurs(ctx.tmpfs.mountAt(dir))) await ctx.tmpfs.unmount(dir).catch(() => {});
    await removeStaging(stage, ctx.tmpfs).catch(() => {});
    try {
      await revokePodToken(svc.rollbackApi, nodeToken, minted);
      if (journaled) svc.journal.remove(entry);
    } catch (revokeErr) {
      // Kept as pending: `vaulttmpfs gc` retries it.
      if (journaled) svc.journal.put({ ...entry, state: "pending", attempts: 1, lastError: errorMessage(revokeErr) });
    }
    throw err;
  }
}
