import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failure, renderResult } from "../flex/protocol.ts";
import { createOpLog } from "./oplog.ts";
import { forgetSecrets, registerSecret, scrub } from "./scrub.ts";

afterEach(forgetSecrets);

test("a registered secret is removed wherever it appears, even mid-word", () => {
  registerSecret("opaque-generator-secret");
  expect(scrub("echo: X-Vault-Token: opaque-generator-secret; againopaque-generator-secretx")).toBe("echo: X-Vault-Token: [redacted]; again[redacted]x");
});

test("token-shaped strings go even when never registered; short or ordinary words stay", () => {
  registerSecret("short");
  expect(scrub("a hvs.CAESIJ1234567890abcdefghij b s.abcdefghijklmnopqrstuvwx c hvb.AAAAAQJ_abcdefghijklmnop short s.notatoken")).toBe(
    "a [redacted] b [redacted] c [redacted] short s.notatoken",
  );
});

test("a signed JWT (a service-account token) goes even when never registered; a lone base64 word stays", () => {
  const jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YTpiIn0.c2lnbmF0dXJlLWJ5dGVz";
  expect(scrub(`proxy said: {"role":"a","jwt":"${jwt}"}`)).toBe('proxy said: {"role":"a","jwt":"[redacted]"}');
  expect(scrub("eyJhbGciOiJSUzI1NiJ9 alone")).toBe("eyJhbGciOiJSUzI1NiJ9 alone");
});

test("the kubelet's JSON and the log line are scrubbed", () => {
  registerSecret("pod-token-value-123");
  expect(renderResult(failure("Vault said pod-token-value-123 is bad"))).toBe('{"status":"Failure","message":"Vault said [redacted] is bad"}\n');
  const file = join(mkdtempSync(join(tmpdir(), "scrub-")), "log");
  createOpLog(file).write({ op: "mount", result: "failure", error: "x pod-token-value-123 y", detail: "hvs.ABCDEFGHIJKLMNOPQRSTUVWX" });
  const line = readFileSync(file, "utf8");
  expect(line).not.toContain("pod-token-value-123");
  expect(line).not.toContain("hvs.");
  expect(line).toContain('"error":"x [redacted] y"');
});
