import { flagValue, UsageError } from "../flags.ts";
import { parseDurationSecond } from "../../env/goparse.ts";
import { errorMessage } from "../../errors.ts";
import { installTargetFlags, type DriverName } from "../install/name.ts";

export interface AgentOptions {
  readonly pluginDir: string;
  readonly driver: DriverName;
  readonly install: boolean;
  readonly gcIntervalMs: number;
  readonly renewCheckIntervalMs: number;
}

/** Once a minute: gc is cheap when there is nothing to do, and renewal only talks to Vault when half the TTL is gone. */
export const DEFAULT_INTERVAL_MS = 60_000;

export function agentOptions(args: readonly string[]): AgentOptions {
  return {
    ...installTargetFlags(args),
    install: !args.includes("--no-install"),
    gcIntervalMs: interval(args, "--gc-interval"),
    renewCheckIntervalMs: interval(args, "--renew-check-interval"),
  };
}

/** Same syntax as VAULT_* durations: `90`, `1m30s`, `200ms`, `1d`. */
function interval(args: readonly string[], flag: string): number {
  const raw = flagValue(args, flag);
  if (raw === undefined) return DEFAULT_INTERVAL_MS;
  let ms: number;
  try {
    ms = parseDurationSecond(raw);
  } catch (err) {
    throw new UsageError(`${flag}: ${errorMessage(err)} (use e.g. "1m", "30s" or "500ms")`);
  }
  if (!(ms >= 10) || ms > 86_400_000) throw new UsageError(`${flag} must be between 10ms and 24h, got ${JSON.stringify(raw)}`);
  return ms;
}
