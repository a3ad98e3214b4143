import { expect, test } from "bun:test";
import { fail, ok, skip, warn } from "./checks.ts";
import { isHealthy, renderJson, renderText } from "./report.ts";

const results = [ok("config", "fine"), warn("tls", "skip-verify", "unset it"), fail("capabilities", "may not create", "grant it"), skip("role", "later")];

test("text: status and name columns aligned, fix under the detail, summary last", () => {
  expect(renderText(results)).toBe(
    [
      "ok    config        fine",
      "warn  tls           skip-verify",
      "                    fix: unset it",
      "fail  capabilities  may not create",
      "                    fix: grant it",
      "skip  role          later",
      "",
      "doctor: 1 ok, 1 warning, 1 failed, 1 skipped: not ready: fix the failures above",
      "",
    ].join("\n"),
  );
});

test("text summary without failures", () => {
  expect(renderText([ok("config", "x")])).toEndWith("doctor: 1 ok, 0 warnings, 0 failed: ready\n");
  expect(renderText([ok("config", "x"), warn("tls", "y", "z")])).toEndWith("ready, with warnings\n");
});

test("json: one document, fix only where there is one; warnings and skips are healthy", () => {
  const doc = JSON.parse(renderJson(results));
  expect(doc.ok).toBe(false);
  expect(doc.checks[0]).toEqual({ name: "config", status: "ok", detail: "fine" });
  expect(doc.checks[1]).toEqual({ name: "tls", status: "warn", detail: "skip-verify", fix: "unset it" });
  expect(renderJson(results).trim().split("\n")).toHaveLength(1);
  expect(isHealthy([ok("config", ""), warn("tls", "", ""), skip("role", "")])).toBe(true);
});
