import { loadConfig } from "../config.ts";
import { services, type Context } from "../context.ts";
import { errorMessage } from "../errors.ts";
import { formatSeconds, parseDurationSecond } from "../env/goparse.ts";
import { createOpLog } from "../log/oplog.ts";
import { describeNodeToken, readNodeToken, RENEWAL_LOCK_FILE, renewNodeTokenIfDue } from "../token/generator.ts";
import { flagValue, type OperatorIo } from "../ops/flags.ts";

/**
 * `vaulttmpfs renew-token [--min-ttl DURATION] [--json]`: always renews the
 * node's token (the generator, or the revoke-only token) and prints the TTL Vault granted. Exits 1 when it cannot
 * renew, or (with `--min-ttl`) when the TTL is below the threshold, for alerting.
 */
export async function renewTokenCommand(args: readonly string[], ctx: Context, io: OperatorIo): Promise<number> {
  const minTtlRaw = flagValue(args, "--min-ttl");
  const minTtlSeconds = minTtlRaw === undefined ? 0 : parseDurationSecond(minTtlRaw) / 1000;
  const config = loadConfig(ctx.env);
  const { api, journal } = services(config, ctx);
  const log = createOpLog(config.logFile);
  const { name, bootstrap } = describeNodeToken(config.nodeToken);
  try {
    const token = readNodeToken(config.nodeToken);
    const outcome = await renewNodeTokenIfDue({ api, token, tokenPath: config.nodeToken.path, stateDir: config.stateDir, lockPath: journal.lockPath(RENEWAL_LOCK_FILE), now: ctx.now, force: true });
    // A non-renewable token (root, or a fixed TTL) keeps whatever it has left.
    const ttl = outcome.kind === "renewed" ? outcome.ttlSeconds : (await api.lookupSelf(token)).ttl;
    const renewed = outcome.kind === "renewed";
    const low = ttl < minTtlSeconds;
    log.write({ op: "renew-token", result: low ? "failure" : "success", detail: `${renewed ? "renewed" : "not renewable"}, ttl ${ttl}s` });
    if (args.includes("--json")) {
      io.out(`${JSON.stringify({ renewed, ttlSeconds: ttl, belowMinTtl: low })}\n`);
    } else {
      io.out(renewed ? `${name} renewed: TTL ${formatSeconds(ttl)}\n` : `${name} is not renewable: ${formatSeconds(ttl)} left\n`);
      if (low) io.err(`TTL ${formatSeconds(ttl)} is below --min-ttl ${formatSeconds(minTtlSeconds)}: the token will expire; run "${bootstrap} --force" or raise its period\n`);
    }
    return low ? 1 : 0;
  } catch (err) {
    log.write({ op: "renew-token", result: "failure", error: errorMessage(err) });
    io.err(`cannot renew the ${name}: ${errorMessage(err)}\n`);
    return 1;
  }
}
