import { logFileFrom } from "./config.ts";
import type { Context } from "./context.ts";
import { DriverError } from "./errors.ts";
import { initCommand } from "./commands/init.ts";
import { mountCommand } from "./commands/mount.ts";
import { unmountCommand } from "./commands/unmount.ts";
import { createOpLog } from "./log/oplog.ts";
import { failure, notSupported, type DriverCommand, type DriverResult } from "./flex/protocol.ts";

const COMMANDS: Record<DriverCommand, (args: readonly string[], ctx: Context) => DriverResult | Promise<DriverResult>> = {
  init: () => initCommand(),
  mount: mountCommand,
  unmount: unmountCommand,
};

/**
 * Runs one kubelet call and maps its outcome to the FlexVolume result: the
 * only place where errors become a status. Our own errors carry a message
 * meant for the pod's events; anything else is a bug, reported generically,
 * with the detail in the log only.
 */
export async function runDriverCommand(command: string, args: readonly string[], ctx: Context): Promise<DriverResult> {
  const impl = (COMMANDS as Record<string, (typeof COMMANDS)[DriverCommand]>)[command];
  if (!impl) return notSupported(command);
  const started = ctx.now();
  let result: DriverResult;
  let error: unknown;
  try {
    result = await impl(args, ctx);
  } catch (err) {
    error = err;
    result = failure(describeFailure(err));
  }
  if (command !== "init") {
    createOpLog(logFileFrom(ctx.env) ?? null).write({
      op: command,
      result: result.status === "Success" ? "success" : "failure",
      ...ctx.trace,
      durationMs: Math.round(ctx.now() - started),
      ...(error === undefined
        ? {}
        : { error: result.message ?? "", errorKind: (error as Error)?.name ?? "unknown", ...(error instanceof DriverError ? {} : { detail: String((error as Error)?.stack ?? error).slice(0, 2000) }) }),
    });
  }
  return result;
}

/** A message for the pod's events: ours as written, a filesystem error as syscall/path/code, anything else generic. */
function describeFailure(err: unknown): string {
  if (err instanceof DriverError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && typeof e.syscall === "string") return `${e.syscall}${e.path ? ` ${e.path}` : ""} failed: ${e.code}`;
  return `internal error (${e?.name ?? typeof err}); details in VAULTTMPFS_LOG_FILE`;
}
