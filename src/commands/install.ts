import { logFileFrom } from "../config.ts";
import type { Context } from "../context.ts";
import { errorMessage } from "../errors.ts";
import { createOpLog } from "../log/oplog.ts";
import { installDriver, type InstallResult } from "../ops/install/copy.ts";
import { installTargetFlags } from "../ops/install/name.ts";
import { installSource } from "../ops/install/source.ts";
import type { OperatorIo } from "../ops/flags.ts";

/** One line for people (and the agent's log): what happened, where, and which bytes. */
export function describeInstall(r: InstallResult): string {
  return r.status === "installed"
    ? `installed ${r.driver} at ${r.path} (sha256 ${r.sha256}, ${r.bytes} bytes)`
    : `unchanged ${r.driver} at ${r.path} (sha256 ${r.sha256}): already installed, not touched`;
}

/**
 * `vaulttmpfs install [--plugin-dir DIR] [--driver VENDOR~NAME] [--json]`:
 * copies this binary into the kubelet's plugin dir atomically, or leaves an
 * identical copy alone. Needs no Vault settings, so a node whose VAULT_*
 * configuration is still wrong can get the binary anyway; only the op log's
 * path is read from the environment.
 */
export async function installCommand(args: readonly string[], ctx: Context, io: OperatorIo): Promise<number> {
  const json = args.includes("--json");
  const target = installTargetFlags(args);
  const log = createOpLog(logFileFrom(ctx.env) ?? null);
  try {
    const result = installDriver({ source: installSource(ctx.env), ...target, now: ctx.now });
    log.write({ op: "install", result: result.status === "installed" ? "success" : "skipped", detail: describeInstall(result) });
    io.out(json ? `${JSON.stringify(result)}\n` : `${describeInstall(result)}\n`);
    return 0;
  } catch (err) {
    log.write({ op: "install", result: "failure", error: errorMessage(err) });
    if (!json) throw err;
    io.out(`${JSON.stringify({ status: "failed", driver: target.driver.pluginName, error: errorMessage(err) })}\n`);
    io.err(`vaulttmpfs install: ${errorMessage(err)}\n`);
    return 1;
  }
}
