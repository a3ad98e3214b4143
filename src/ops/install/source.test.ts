import { expect, test } from "bun:test";
import { INSTALL_SOURCE_ENV, installSource } from "./source.ts";

const compiled = { execPath: "/opt/vaulttmpfs", standalone: true };
const interpreted = { execPath: "/usr/local/bin/bun", standalone: false };

test("the compiled binary installs itself", () => {
  expect(installSource({}, compiled)).toBe("/opt/vaulttmpfs");
});

test("bun running the source refuses, naming the binary to use", () => {
  expect(() => installSource({}, interpreted)).toThrow(`/usr/local/bin/bun running the TypeScript source, not the compiled driver`);
});

test("the test hook works from source only, and must be absolute", () => {
  expect(installSource({ [INSTALL_SOURCE_ENV]: "/tmp/other" }, interpreted)).toBe("/tmp/other");
  expect(() => installSource({ [INSTALL_SOURCE_ENV]: "other" }, interpreted)).toThrow(`${INSTALL_SOURCE_ENV} must be an absolute path`);
  expect(installSource({ [INSTALL_SOURCE_ENV]: "" }, compiled)).toBe("/opt/vaulttmpfs");
});

test("the compiled binary ignores the hook: the agent's environment never chooses what runs as the driver", () => {
  expect(installSource({ [INSTALL_SOURCE_ENV]: "/tmp/evil" }, compiled)).toBe("/opt/vaulttmpfs");
});
