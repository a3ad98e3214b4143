import { existsSync } from "node:fs";
import { collectGarbage, type GcItem } from "../../gc/collect.ts";
import type { DriverConfig } from "../../config.ts";
import type { Services } from "../../context.ts";
import { formatSeconds } from "../../env/goparse.ts";
import { errorMessage } from "../../errors.ts";
import { describeNodeToken, readNodeToken, RENEWAL_LOCK_FILE, renewNodeTokenIfDue } from "../../token/generator.ts";
import type { Tmpfs } from "../../volume/tmpfs.ts";
import type { AgentLog } from "./log.ts";

export interface TaskDeps {
  readonly config: DriverConfig;
  readonly svc: Services;
  readonly tmpfs: Tmpfs;
  readonly log: AgentLog;
  readonly now: () => number;
}

/**
 * Renews the node's token (generator or revoke-only) when less than half of its TTL is left (the
 * same rule and lock the mounts use, so agent and mounts never both renew).
 * Re-reads the token file every time: `bootstrap --force` may replace it.
 */
export async function renewTick(d: TaskDeps): Promise<void> {
  const token = readNodeToken(d.config.nodeToken);
  const outcome = await renewNodeTokenIfDue({
    api: d.svc.api,
    token,
    tokenPath: d.config.nodeToken.path,
    stateDir: d.config.stateDir,
    lockPath: d.svc.journal.lockPath(RENEWAL_LOCK_FILE),
    now: d.now,
    retryFailedNow: true,
  });
  const { name } = describeNodeToken(d.config.nodeToken);
  if (outcome.kind === "renewed") {
    const detail = `renewed, ttl ${outcome.ttlSeconds}s`;
    d.log.line(`renew: ${name} renewed, TTL ${formatSeconds(outcome.ttlSeconds)}`, { op: "renew-token", result: "success", detail });
  } else if (outcome.kind === "not-renewable") {
    d.log.line(`renew: the ${name} is not renewable (root or fixed TTL); nothing to renew`, { op: "renew-token", result: "skipped", detail: "not renewable" });
  }
}

export function renewFailed(d: Pick<TaskDeps, "log" | "config">, err: unknown): void {
  const { name } = describeNodeToken(d.config.nodeToken);
  d.log.line(`renew: cannot renew the ${name}: ${errorMessage(err)}; retrying at the next check`, { op: "renew-token", result: "failure", error: errorMessage(err) });
}

/** One gc pass; logs what it revoked or failed to revoke, not what it kept. */
export function gcTicker(d: TaskDeps): () => Promise<void> {
  const reported = new Set<string>();
  return async () => {
    const report = await collectGarbage({ journal: d.svc.journal, api: d.svc.api, tmpfs: d.tmpfs, nodeToken: d.config.nodeToken, dryRun: false, now: d.now, exists: existsSync });
    for (const item of report.items) logGcItem(d.log, item);
    for (const l of report.leftovers) {
      if (l.action === "revoked") d.log.line(`gc: revoked the token named by ${l.kind} ${l.file} and removed the file`, { op: "gc", result: "success", podUid: l.key.podUid, detail: `${l.kind} ${l.file}: revoked` });
      else if (l.action === "failed") d.log.line(`gc: cannot settle ${l.kind} ${l.file}: ${l.error ?? "unknown error"}; retrying at the next pass`, { op: "gc", result: "failure", podUid: l.key.podUid, ...(l.error ? { error: l.error } : {}) });
    }
    // An unreadable journal file stays until a person looks at it: say so once, not every minute.
    for (const name of report.unreadable.filter((n) => !reported.has(n))) {
      reported.add(name);
      d.log.line(`gc: journal file ${name} in ${d.config.stateDir}/volumes is unreadable; left in place, inspect it by hand`, { op: "gc", result: "failure", detail: `unreadable journal file ${name}` });
    }
  };
}

function logGcItem(log: AgentLog, item: GcItem): void {
  if (item.action !== "revoked" && item.action !== "failed") return;
  const who = `${item.namespace}/${item.pod} volume ${item.volumeName}`;
  const record = { op: "gc", dir: item.dir, namespace: item.namespace, pod: item.pod, podUid: item.podUid, detail: `${item.reason}: ${item.action}` } as const;
  if (item.action === "revoked") log.line(`gc: revoked the token of ${who} (${item.reason})`, { ...record, result: "success" });
  else log.line(`gc: cannot revoke the token of ${who} (${item.reason}): ${item.error ?? "unknown error"}; retrying at the next pass`, { ...record, result: "failure", ...(item.error ? { error: item.error } : {}) });
}

export function gcFailed(d: Pick<TaskDeps, "log">, err: unknown): void {
  d.log.line(`gc: pass failed: ${errorMessage(err)}; retrying at the next pass`, { op: "gc", result: "failure", error: errorMessage(err) });
}
