import type { Context } from "../context.ts";
import { isHealthy, renderJson, renderText } from "../ops/doctor/report.ts";
import { runDoctor } from "../ops/doctor/run.ts";
import { installTargetFlags } from "../ops/install/name.ts";
import type { OperatorIo } from "../ops/flags.ts";

/**
 * `vaulttmpfs doctor`: a read-only preflight of this node (config, Vault, TLS,
 * generator token and its rights, role, install, state dir, mount tools; a
 * real tmpfs mount with --mount-test). Exit 0 when nothing fails, warnings
 * included; 1 when a check fails; 2 on bad flags.
 */
export async function doctorCommand(args: readonly string[], ctx: Context, io: OperatorIo): Promise<number> {
  // The same flags, defaults and validation as `install`, so doctor looks exactly where install puts the binary.
  const location = installTargetFlags(args);
  const results = await runDoctor(ctx, {
    location,
    mountTest: args.includes("--mount-test"),
    self: { path: process.execPath, compiled: Bun.isStandaloneExecutable },
  });
  io.out(args.includes("--json") ? renderJson(results) : renderText(results));
  return isHealthy(results) ? 0 : 1;
}
