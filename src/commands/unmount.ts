import { loadConfig } from "../config.ts";
import { services, type Context } from "../context.ts";
import { InvalidRequestError, errorMessage } from "../errors.ts";
import { checkOwnDriver, parsePodVolumePath } from "../flex/podpath.ts";
import { success, type DriverResult } from "../flex/protocol.ts";
import { readNodeToken } from "../token/generator.ts";
import { revokePodToken } from "../token/revoke.ts";
import { removeStaging, stagingDir } from "../volume/staging.ts";
import { teardownVolume } from "../volume/teardown.ts";

/**
 * `unmount <dir>`: tear the volume down, then revoke its token by the accessor
 * the journal kept. The kubelet sends only the path, perhaps after a restart,
 * so everything comes from the path and the journal. Once the volume is torn
 * down the answer is Success even if Vault is unreachable: the entry stays
 * pending for `vaulttmpfs gc`, rather than the kubelet looping on a dead pod.
 */
export async function unmountCommand(args: readonly string[], ctx: Context): Promise<DriverResult> {
  if (args.length !== 1) throw new InvalidRequestError(`unmount takes exactly one argument <dir>, got ${args.length}`);
  const volume = parsePodVolumePath(args[0]);
  checkOwnDriver(volume, ctx.driverDir);
  ctx.trace.dir = volume.dir;
  ctx.trace.podUid = volume.podUid;
  const config = loadConfig(ctx.env);
  const { api, journal } = services(config, ctx);

  const lock = await journal.lockVolume(volume);
  try {
    const did = await teardownVolume(volume, ctx.tmpfs);
    // A mount killed between its staging mount and its move leaves the staging tmpfs (token inside) behind.
    // Past this point the volume is gone: nothing below may turn that into a Failure the kubelet retries.
    await removeStaging(stagingDir(config.stateDir, volume), ctx.tmpfs).catch((err) => void (ctx.trace.error = `staging left for gc: ${errorMessage(err)}`));
    const entry = journal.get(volume);
    if (!entry) {
      ctx.trace.detail = `${did}; no journal entry, nothing to revoke`;
      return success();
    }
    Object.assign(ctx.trace, { namespace: entry.namespace, pod: entry.pod, role: entry.role, policies: entry.policies, accessor: entry.accessor });
    try {
      await revokePodToken(api, readNodeToken(config.nodeToken), entry);
      ctx.trace.detail = `${did}; token revoked`;
      recordQuietly(ctx, () => journal.remove(entry));
    } catch (err) {
      const lastError = errorMessage(err);
      ctx.trace.detail = `${did}; revocation pending (gc will retry): ${lastError}`;
      recordQuietly(ctx, () => journal.put({ ...entry, state: "pending", attempts: entry.attempts + 1, lastError, updatedAt: new Date(ctx.now()).toISOString() }));
    }
    return success();
  } finally {
    lock.release();
  }
}

/**
 * Records the outcome in the journal after the teardown. A state dir that
 * cannot be written (read-only, full) does not fail the unmount: the entry as
 * it was still names the token, and gc revokes it (again: "not found" counts
 * as done) and removes the entry once the dir is writable.
 */
function recordQuietly(ctx: Context, write: () => void): void {
  try {
    write();
  } catch (err) {
    ctx.trace.error = `journal not updated (gc will finish it): ${errorMessage(err)}`;
  }
}
