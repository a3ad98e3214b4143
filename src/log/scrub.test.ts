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

test("an OpenBao batch token (b. and ~130 characters with - and _) goes by its shape", () => {
  const batch = "b.AAAAAQKlxdcK7pQpLwW8gI3ZQ_fGqZ-Wz0mKq1rT8Vq0b8sHjQ3yK9m8UuEwzHf0E2nD-lqP5XrH7sY1vA4cB6dF9gJ2kL3mN5oR7tU8wX0yZ1aB2cD4eF6gH8iJ0kL2mN4o";
  expect(scrub(`token ${batch} end`)).toBe("token [redacted] end");
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
