import { expect, test } from "bun:test";
import { INSTALL_SOURCE_ENV, installSource } from "./install-source.ts";

const compiled = { execPath: "/opt/vaulttmpfs", standalone: true };
const interpreted = { execPath: "/usr/local/bin/bun", standalone: false };

test("the compiled binary installs itself", () => {
  expect(installSource({}, compiled)).toBe("/opt/vaulttmpfs");
});

test("bun running the source refuses, naming the binary to use", () => {
  expect(() => installSource({}, interpreted)).toThrow(`/usr/local/bin/bun running the TypeScript source, not the compiled driver`);
});

test("the test hook wins, and must be absolute", () => {
  expect(installSource({ [INSTALL_SOURCE_ENV]: "/tmp/other" }, interpreted)).toBe("/tmp/other");
  expect(() => installSource({ [INSTALL_SOURCE_ENV]: "other" }, compiled)).toThrow(`${INSTALL_SOURCE_ENV} must be an absolute path`);
  expect(installSource({ [INSTALL_SOURCE_ENV]: "" }, compiled)).toBe("/opt/vaulttmpfs");
});
