import { isOperatorInvocation, main, printDriverResult } from "./cli.ts";
import { logFileFrom } from "./config.ts";
import { defaultContext } from "./context.ts";
import { exitCodeFor, failure, type DriverResult } from "./flex/protocol.ts";
import { createOpLog } from "./log/oplog.ts";
import { captureStdio, firstWriteOnly, processOutput } from "./output.ts";

/** Wires one process: signals, the stdout discipline of kubelet calls, crash handling. */
export async function runProcess(argv: readonly string[]): Promise<void> {
  const controller = new AbortController();
  const ctx = { ...defaultContext(process.env), signal: controller.signal };

  // A signal aborts the work in flight, so the command rolls back and still answers.
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => controller.abort(new Error(`received ${sig}`)));

  if (isOperatorInvocation(argv[0])) {
    process.exitCode = await main(argv, process.env, processOutput, ctx);
    return;
  }
  // Kubelet path: whatever happens, exactly one JSON object on stdout and nothing on stderr.
  const output = firstWriteOnly(captureStdio());
  const crash = (err: unknown) => {
    createOpLog(logFileFrom(process.env) ?? null).write({
      op: argv[0] ?? "",
      result: "failure",
      error: "the driver crashed",
      errorKind: (err as Error)?.name ?? typeof err,
      detail: String((err as Error)?.stack ?? err).slice(0, 2000),
    });
    const printed = output.written();
    // If the answer is already out, the exit code must agree with it (Success + non-zero is a "driver bug" to the kubelet).
    if (printed !== undefined) process.exit(exitCodeFor(JSON.parse(printed) as DriverResult, argv));
    process.exit(printDriverResult(output, failure("internal error: the driver crashed; see VAULTTMPFS_LOG_FILE"), argv));
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  process.exitCode = await main(argv, process.env, output, ctx);
}
