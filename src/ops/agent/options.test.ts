import { expect, test } from "bun:test";
import { UsageError } from "../flags.ts";
import { agentOptions, DEFAULT_INTERVAL_MS } from "./options.ts";

test("defaults: install, both intervals one minute", () => {
  expect(agentOptions([])).toMatchObject({ install: true, gcIntervalMs: DEFAULT_INTERVAL_MS, renewCheckIntervalMs: 60_000, driver: { pluginName: "cloudwatt/vaulttmpfs" } });
});

test("durations use the VAULT_* syntax: Go durations, bare seconds, days", () => {
  const o = agentOptions(["--gc-interval", "200ms", "--renew-check-interval=90", "--no-install"]);
  expect([o.gcIntervalMs, o.renewCheckIntervalMs, o.install]).toEqual([200, 90_000, false]);
  expect(agentOptions(["--gc-interval", "1m30s"]).gcIntervalMs).toBe(90_000);
  expect(agentOptions(["--gc-interval", "1d"]).gcIntervalMs).toBe(86_400_000);
});

test.each([
  [["--gc-interval", "soon"], `--gc-interval: time: invalid duration "soon"`],
  [["--gc-interval", "0"], "--gc-interval must be between 10ms and 24h"],
  [["--renew-check-interval", "-1m"], "--renew-check-interval must be between 10ms and 24h"],
  [["--renew-check-interval", "2d"], "must be between 10ms and 24h"],
  [["--gc-interval", "5ms"], "must be between 10ms and 24h"],
])("refuses %j", (args, message) => {
  expect(() => agentOptions(args)).toThrow(UsageError);
  expect(() => agentOptions(args)).toThrow(message);
});
