/** How doctor results are shown: aligned text for a person, one JSON document for a script. */
import type { CheckResult, CheckStatus } from "./checks.ts";

/** Warnings and skips are allowed; any failure is not. */
export function isHealthy(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status !== "fail");
}

/** `{ "ok": bool, "checks": [{ name, status, detail, fix? }] }` and a newline. */
export function renderJson(results: readonly CheckResult[]): string {
  const checks = results.map(({ name, status, detail, fix }) => (fix === undefined ? { name, status, detail } : { name, status, detail, fix }));
  return `${JSON.stringify({ ok: isHealthy(results), checks })}\n`;
}

/**
 * One line per check (`status  name  detail`), then its fix on the next line
 * under the detail, then a summary. Plain text: no colours to garble a log.
 */
export function renderText(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const indent = " ".repeat(6 + width + 2);
  const lines = results.flatMap((r) => {
    const line = `${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}`;
    return r.fix === undefined ? [line] : [line, `${indent}fix: ${r.fix}`];
  });
  return `${[...lines, "", summary(results)].join("\n")}\n`;
}

function summary(results: readonly CheckResult[]): string {
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  const warnings = `${count("warn")} warning${count("warn") === 1 ? "" : "s"}`;
  const parts = [`${count("ok")} ok`, warnings, `${count("fail")} failed`, ...(count("skip") ? [`${count("skip")} skipped`] : [])];
  const verdict = !isHealthy(results) ? "not ready: fix the failures above" : count("warn") > 0 ? "ready, with warnings" : "ready";
  return `doctor: ${parts.join(", ")}: ${verdict}`;
}
