import { existsSync } from "node:fs";
import { loadConfig } from "../config.ts";
import { services, type Context } from "../context.ts";
import { collectGarbage, type GcAction } from "../gc/collect.ts";
import { createOpLog } from "../log/oplog.ts";
import type { OperatorIo } from "../ops/flags.ts";

export async function gcCommand(args: readonly string[], ctx: Context, io: OperatorIo): Promise<number> {
  const json = args.includes("--json");
  const dryRun = args.includes("--dry-run");
  const config = loadConfig(ctx.env);
  const { api, journal } = services(config, ctx);
  const report = await collectGarbage({ journal, api, tmpfs: ctx.tmpfs, nodeToken: config.nodeToken, dryRun, now: ctx.now, exists: existsSync });
  const log = createOpLog(config.logFile);
  for (const item of report.items) {
    if (item.action === "kept" || item.action === "would-revoke") continue;
    log.write({ op: "gc", result: item.action === "revoked" ? "success" : item.action === "busy" ? "skipped" : "failure", dir: item.dir, namespace: item.namespace, pod: item.pod, podUid: item.podUid, detail: `${item.reason}: ${item.action}`, ...(item.error ? { error: item.error } : {}) });
  }
  for (const l of report.leftovers) {
    if (l.action === "kept" || l.action === "would-revoke" || l.action === "busy") continue;
    log.write({ op: "gc", result: l.action === "failed" || l.action === "unrecoverable" ? "failure" : "success", podUid: l.key.podUid, detail: `${l.kind} ${l.file}: ${l.action}`, ...(l.error ? { error: l.error } : {}) });
  }
  if (json) {
    io.out(`${JSON.stringify({ dryRun, ...report })}\n`);
  } else {
    for (const i of report.items) {
      io.out(`${i.action.padEnd(12)} ${i.namespace}/${i.pod} volume ${i.volumeName} (${i.reason})${i.error ? `: ${i.error}` : ""}\n`);
    }
    for (const l of report.leftovers) io.out(`${l.action.padEnd(12)} ${l.kind} ${l.file}${l.error ? `: ${l.error}` : ""}\n`);
    for (const name of report.unreadable) io.out(`unreadable   journal file ${name} (left in place: inspect it, then remove it)\n`);
    const counts = (a: GcAction) => report.items.filter((i) => i.action === a).length;
    io.out(`${dryRun ? "dry run: " : ""}${report.items.length} entries: ${counts("revoked")} revoked, ${counts("kept")} kept, ${counts("busy")} busy, ${counts("failed")} failed${dryRun ? `, ${counts("would-revoke")} would be revoked` : ""}; ${report.pending} pending${report.prunedLocks ? `; ${report.prunedLocks} stale lock files removed` : ""}\n`);
  }
  return report.pending === 0 && report.unreadable.length === 0 ? 0 : 1;
}
