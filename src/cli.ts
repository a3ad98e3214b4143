import type { Env } from "./config.ts";
import { defaultContext, type Context } from "./context.ts";
import { DriverError, errorMessage } from "./errors.ts";
import { runDriverCommand } from "./driver.ts";
import { exitCodeFor, failure, renderResult, type DriverResult } from "./flex/protocol.ts";
import type { Output } from "./output.ts";
import { checkFlags, UsageError, type OperatorIo } from "./ops/flags.ts";
import { COMMIT, VERSION } from "./version.ts";
import { scrub } from "./log/scrub.ts";

type OperatorRun = (args: readonly string[], ctx: Context, io: OperatorIo) => Promise<number> | number;

/**
 * Operator commands load their code only when run (dynamic import, a chunk
 * of their own): the kubelet's `mount` and `unmount` must not pay for
 * terminals, hashing, doctor or release code at every start.
 */
type OperatorCommand = {
  readonly summary: string;
  readonly usage: string;
  readonly flags: { bool?: readonly string[]; value?: readonly string[] };
  readonly load: () => Promise<OperatorRun>;
};

const OPERATOR_COMMANDS: Record<string, OperatorCommand> = {
  gc: {
    summary: "revoke tokens whose pods are gone and retry pending revocations",
    usage: "vaulttmpfs gc [--dry-run] [--json]",
    flags: { bool: ["--dry-run", "--json"] },
    load: async () => (await import("./commands/gc.ts")).gcCommand,
  },
  "renew-token": {
    summary: "renew the node's token (generator; revoke-only in pod identity mode) now and print its TTL",
    usage: "vaulttmpfs renew-token [--min-ttl DURATION] [--json]",
    flags: { bool: ["--json"], value: ["--min-ttl"] },
    load: async () => (await import("./commands/renew-token.ts")).renewTokenCommand,
  },
  bootstrap: {
    summary: "create this node's generator token (or, with --revoke-only, its revoke-only token) in Vault and write it to disk",
    usage: "vaulttmpfs bootstrap [--revoke-only] [--policy NAME] [--period DURATION] [--path FILE] [--ldap-mount NAME] [--username NAME] [--force]",
    flags: { bool: ["--force", "--revoke-only"], value: ["--policy", "--period", "--path", "--ldap-mount", "--username"] },
    load: async () => (await import("./commands/bootstrap.ts")).bootstrapCommand,
  },
  doctor: {
    summary: "check this node's setup: config, Vault, TLS, generator token, role, install, state dir",
    usage: "vaulttmpfs doctor [--json] [--mount-test] [--plugin-dir DIR] [--driver VENDOR~NAME]",
    flags: { bool: ["--json", "--mount-test"], value: ["--plugin-dir", "--driver"] },
    load: async () => (await import("./commands/doctor.ts")).doctorCommand,
  },
  install: {
    summary: "copy this binary into the kubelet's plugin dir, atomically",
    usage: "vaulttmpfs install [--plugin-dir DIR] [--driver VENDOR~NAME] [--json]",
    flags: { bool: ["--json"], value: ["--plugin-dir", "--driver"] },
    load: async () => (await import("./commands/install.ts")).installCommand,
  },
  agent: {
    summary: "DaemonSet mode: install, then renew the generator token and run gc until SIGTERM",
    usage: "vaulttmpfs agent [--plugin-dir DIR] [--driver VENDOR~NAME] [--gc-interval DURATION] [--renew-check-interval DURATION] [--no-install]",
    flags: { bool: ["--no-install"], value: ["--plugin-dir", "--driver", "--gc-interval", "--renew-check-interval"] },
    load: async () => (await import("./commands/agent.ts")).agentCommand,
  },
  version: {
    summary: "print the version and git commit",
    usage: "vaulttmpfs version [--json]",
    flags: { bool: ["--json"] },
    load: async () => (args, _ctx, io) => {
      io.out(args.includes("--json") ? `${JSON.stringify({ version: VERSION, commit: COMMIT })}\n` : `vaulttmpfs ${VERSION} (${COMMIT})\n`);
      return 0;
    },
  },
};

function helpText(): string {
  const width = Math.max(...Object.keys(OPERATOR_COMMANDS).map((c) => c.length));
  return [
    `vaulttmpfs ${VERSION}: a Kubernetes FlexVolume driver that hands each pod a Vault token on a tmpfs.`,
    "",
    "Kubelet calls (print one JSON object):",
    "  init | mount <dir> <json> | unmount <dir>",
    "",
    "Operator commands (run `vaulttmpfs <command> --help`):",
    ...Object.entries(OPERATOR_COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

/** True for argv that a person types; everything else is a kubelet call and answers in JSON. */
export function isOperatorInvocation(command: string | undefined): boolean {
  return command !== undefined && (command in OPERATOR_COMMANDS || ["help", "--help", "-h", "--version"].includes(command));
}

export function printDriverResult(output: Output, result: DriverResult, argv: readonly string[] = []): number {
  output.out(renderResult(result));
  return exitCodeFor(result, argv);
}

/** The testable entry point: argv (without the binary) and env in, exit code out. */
export async function main(argv: readonly string[], env: Env, output: Output, ctx: Context = defaultContext(env)): Promise<number> {
  const [command = "", ...args] = argv;
  if (command === "help" || command === "--help" || command === "-h") {
    output.out(helpText());
    return 0;
  }
  if (command === "--version") return (await OPERATOR_COMMANDS.version!.load())([], ctx, output);
  const operator = OPERATOR_COMMANDS[command];
  if (operator) return runOperator(command, operator, args, ctx, output);
  try {
    return printDriverResult(output, await runDriverCommand(command, args, ctx), args);
  } catch (err) {
    return printDriverResult(output, failure(err instanceof DriverError ? err.message : "internal error"), args);
  }
}

async function runOperator(name: string, command: OperatorCommand, args: readonly string[], ctx: Context, rawIo: OperatorIo): Promise<number> {
  // Every line an operator command prints passes the scrubber, like the kubelet's JSON and the log.
  const io: OperatorIo = { out: (t) => rawIo.out(scrub(t)), err: (t) => rawIo.err(scrub(t)) };
  if (args.includes("--help") || args.includes("-h")) {
    io.out(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  try {
    checkFlags(args, command.flags);
    return await (await command.load())(args, ctx, io);
  } catch (err) {
    io.err(`vaulttmpfs ${name}: ${errorMessage(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
