import type { OpLog, OpRecord } from "../../log/oplog.ts";
import type { Output } from "../../output.ts";

export interface AgentLog {
  /** One timestamped line on stdout (the container log) and, when given, one record in the op log. */
  line(text: string, record?: OpRecord): void;
}

/**
 * Lines are built only from values that are never secret (paths, pod names,
 * TTLs, error messages of the Vault client, which never include a token).
 */
export function createAgentLog(io: Output, opLog: OpLog, now: () => number): AgentLog {
  return {
    line(text, record) {
      io.out(`${new Date(now()).toISOString()} ${text}\n`);
      if (record) opLog.write(record);
    },
  };
}
