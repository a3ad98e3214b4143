import { loadConfig, logFileFrom } from "../config.ts";
import { services, type Context } from "../context.ts";
import { formatSeconds } from "../env/goparse.ts";
import { errorMessage } from "../errors.ts";
import { createOpLog, type OpLog } from "../log/oplog.ts";
import { createAgentLog, type AgentLog } from "../ops/agent/log.ts";
import { repeat } from "../ops/agent/loop.ts";
import { agentOptions, type AgentOptions } from "../ops/agent/options.ts";
import { gcFailed, gcTicker, renewFailed, renewTick, type TaskDeps } from "../ops/agent/tasks.ts";
import { installDriver } from "../ops/install/copy.ts";
import { installSource } from "../ops/install/source.ts";
import { describeInstall } from "./install.ts";
import type { OperatorIo } from "../ops/flags.ts";

const every = (ms: number) => (ms % 1000 === 0 ? formatSeconds(ms / 1000) : `${ms}ms`);

/**
 * `vaulttmpfs agent`: the DaemonSet's main process. Installs the driver
 * (before reading the Vault config, so a node gets the binary even while
 * that config is wrong), then renews the generator token and runs gc on
 * their intervals until SIGTERM/SIGINT, and exits 0.
 */
export async function agentCommand(args: readonly string[], ctx: Context, io: OperatorIo): Promise<number> {
  const opts = agentOptions(args);
  const opLog = createOpLog(logFileFrom(ctx.env) ?? null);
  const log = createAgentLog(io, opLog, ctx.now);
  if (opts.install) install(opts, ctx, log, opLog);
  const config = loadConfig(ctx.env);
  const deps: TaskDeps = { config, svc: services(config, ctx), tmpfs: ctx.tmpfs, log, now: ctx.now };
  log.line(
    `agent started on node ${config.nodeName}: renewal check every ${every(opts.renewCheckIntervalMs)}, gc every ${every(opts.gcIntervalMs)}, state ${config.stateDir}`,
    { op: "agent", result: "info", detail: "started" },
  );
  await Promise.all([
    repeat(opts.renewCheckIntervalMs, ctx.signal, () => renewTick(deps), (err) => renewFailed(deps, err)),
    repeat(opts.gcIntervalMs, ctx.signal, gcTicker(deps), (err) => gcFailed(deps, err)),
  ]);
  log.line(`agent stopped: ${errorMessage(ctx.signal.reason ?? "signal")}`, { op: "agent", result: "info", detail: "stopped" });
  return 0;
}

/** A failed install ends the agent (exit 1, message on stderr): the pod restarts with backoff and shows why. */
function install(opts: AgentOptions, ctx: Context, log: AgentLog, opLog: OpLog): void {
  try {
    const result = installDriver({ source: installSource(ctx.env), pluginDir: opts.pluginDir, driver: opts.driver, now: ctx.now });
    log.line(describeInstall(result), { op: "install", result: result.status === "installed" ? "success" : "skipped", detail: describeInstall(result) });
  } catch (err) {
    opLog.write({ op: "install", result: "failure", error: errorMessage(err) });
    throw err;
  }
}
