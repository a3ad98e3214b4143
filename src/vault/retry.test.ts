import { describe, expect, test } from "bun:test";
import { parseRetryAfter, retryDelay, type Outcome } from "./retry.ts";

const mid = () => 0.5;

describe("retryDelay", () => {
  const cases: [string, Outcome, number, number | undefined][] = [
    ["retry a network error with 1–1.5 s", { kind: "network" }, 0, 1250],
    ["second retry waits twice as long", { kind: "network" }, 1, 2500],
    ["retry 500", { kind: "status", status: 500 }, 0, 1250],
    ["retry 502", { kind: "status", status: 502 }, 0, 1250],
    ["retry 503 (sealed, standby)", { kind: "status", status: 503 }, 0, 1250],
    ["retry 412 (agent/consistency)", { kind: "status", status: 412 }, 0, 1250],
    ["retry 429", { kind: "status", status: 429 }, 0, 1250],
    ["retry 429 honouring Retry-After", { kind: "status", status: 429, retryAfterMs: 3000 }, 0, 3000],
    ["retry 503 honouring Retry-After", { kind: "status", status: 503, retryAfterMs: 0 }, 0, 0],
    ["ignore Retry-After on 500", { kind: "status", status: 500, retryAfterMs: 9000 }, 0, 1250],
    ["don't retry 501", { kind: "status", status: 501 }, 0, undefined],
    ["don't retry 400", { kind: "status", status: 400 }, 0, undefined],
    ["don't retry 403", { kind: "status", status: 403 }, 0, undefined],
    ["don't retry 404", { kind: "status", status: 404 }, 0, undefined],
    ["don't retry TLS errors", { kind: "tls" }, 0, undefined],
    ["don't retry an aborted call", { kind: "aborted" }, 0, undefined],
    ["stop when retries are used up", { kind: "network" }, 2, undefined],
  ];
  test.each(cases)("%s", (_name, outcome, attempt, expected) => {
    expect(retryDelay({ outcome, attempt, maxRetries: 2, remainingMs: null, random: mid })).toBe(expected);
  });

  const once: [string, Outcome, number | undefined][] = [
    ["retries a refused connection", { kind: "connect" }, 1250],
    ["retries Vault's 503 (sealed: not processed)", { kind: "status", status: 503, fromVault: true }, 1250],
    ["does not retry a proxy's 503 (Envoy answers it after forwarding)", { kind: "status", status: 503, fromVault: false }, undefined],
    ["retries 429 and 412 from Vault", { kind: "status", status: 429, fromVault: true }, 1250],
    ["does not retry 500 (Vault may have minted)", { kind: "status", status: 500 }, undefined],
    ["does not retry 502/504 (a proxy may have forwarded it)", { kind: "status", status: 504 }, undefined],
    ["does not retry a reset or cut-off body", { kind: "network" }, undefined],
  ];
  test.each(once)("a non-idempotent call %s", (_name, outcome, expected) => {
    expect(retryDelay({ outcome, attempt: 0, maxRetries: 2, remainingMs: null, random: mid, idempotent: false })).toBe(expected);
  });

  test("no retries when VAULT_MAX_RETRIES=0", () => {
    expect(retryDelay({ outcome: { kind: "network" }, attempt: 0, maxRetries: 0, remainingMs: null })).toBeUndefined();
  });

  test("give up rather than sleep past the deadline", () => {
    expect(retryDelay({ outcome: { kind: "network" }, attempt: 0, maxRetries: 2, remainingMs: 1000, random: mid })).toBeUndefined();
    expect(retryDelay({ outcome: { kind: "status", status: 429, retryAfterMs: 30_000 }, attempt: 0, maxRetries: 2, remainingMs: 5000 })).toBeUndefined();
  });

  test("jitter stays within 1–1.5 s × attempt", () => {
    expect(retryDelay({ outcome: { kind: "network" }, attempt: 0, maxRetries: 2, remainingMs: null, random: () => 0 })).toBe(1000);
    expect(retryDelay({ outcome: { kind: "network" }, attempt: 1, maxRetries: 2, remainingMs: null, random: () => 0.999999 })).toBe(3000);
  });
});

describe("parseRetryAfter", () => {
  test("seconds", () => expect(parseRetryAfter("2", 0)).toBe(2000));
  test("HTTP date", () => expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000));
  test("absent or junk", () => {
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });
});
