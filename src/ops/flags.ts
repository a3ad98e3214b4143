import type { Output } from "../output.ts";

/** Human-facing commands talk through this: readable text on stdout, problems on stderr. */
export type OperatorIo = Output;

/** `--name value` or `--name=value`; `undefined` when absent. Throws when the value is missing. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    if (arg === name) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${name} needs a value`);
      return value;
    }
  }
  return undefined;
}

/** Refuses flags the command does not know, so a typo is never silently ignored. */
export function checkFlags(args: readonly string[], known: { bool?: readonly string[]; value?: readonly string[] }): void {
  const bools = known.bool ?? [];
  const values = known.value ?? [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const name = arg.split("=")[0] ?? "";
    if (bools.includes(arg)) continue;
    if (values.includes(name)) {
      if (!arg.includes("=")) i++;
      continue;
    }
    throw new UsageError(`unknown argument ${JSON.stringify(arg)}; known: ${[...bools, ...values].join(" ") || "(none)"}`);
  }
}

export class UsageError extends Error {
  override name = "UsageError";
}
