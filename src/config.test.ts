import { describe, expect, test } from "bun:test";
import { ConfigError } from "./errors.ts";
import { DEFAULTS, loadConfig } from "./config.ts";

describe("loadConfig", () => {
  test("defaults with an empty environment", () => {
    const c = loadConfig({});
    expect(c.vault).toMatchObject({ address: "https://127.0.0.1:8200", timeoutMs: 60_000, maxRetries: 2, wrapTTL: "5m", wrapSeconds: 300, skipVerify: false });
    expect(c).toMatchObject({ generatorTokenPath: DEFAULTS.generatorTokenPath, tokenFileName: "vault-token", roleName: "applications", logFile: "/var/log/vaulttmpfs.log", stateDir: "/var/lib/vaulttmpfs", allowedPolicies: ["*"], allowedRoles: ["*"], maxTtlSeconds: null });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("Go client precedence and parsing", () => {
    const c = loadConfig({
      VAULT_ADDR: "https://vault.example:8200/",
      VAULT_CACERT: "/ca.pem",
      VAULT_CAPATH: "/capath",
      VAULT_MAX_RETRY: "5",
      VAULT_CLIENT_TIMEOUT: "1m30s",
      VAULT_SKIP_VERIFY: "True",
      VAULT_WRAP_TTL: "1d",
    });
    expect(c.vault).toMatchObject({ address: "https://vault.example:8200", ca: { file: "/ca.pem" }, maxRetries: 5, timeoutMs: 90_000, skipVerify: true, wrapSeconds: 86400 });
    expect(loadConfig({ VAULT_MAX_RETRIES: "1", VAULT_MAX_RETRY: "7" }).vault.maxRetries).toBe(1);
    expect(loadConfig({ VAULT_AGENT_ADDR: "http://127.0.0.1:8100", VAULT_ADDR: "https://x" }).vault.address).toBe("http://127.0.0.1:8100");
    expect(loadConfig({ VAULT_ADDR: "unix:///run/vault.sock" }).vault).toMatchObject({ address: "http://localhost", unixSocket: "/run/vault.sock" });
  });

  test("VAULT_CLIENT_TIMEOUT: 0 keeps the default; negative (Go: none) is still bounded, at 5 minutes", () => {
    expect(loadConfig({ VAULT_CLIENT_TIMEOUT: "0" }).vault.timeoutMs).toBe(60_000);
    expect(loadConfig({ VAULT_CLIENT_TIMEOUT: "-1" }).vault.timeoutMs).toBe(300_000);
    expect(loadConfig({ VAULT_CLIENT_TIMEOUT: "30" }).vault.timeoutMs).toBe(30_000);
  });

  test("empty VAULT_* values are ignored; an empty log file disables logging", () => {
    expect(loadConfig({ VAULT_ADDR: "", VAULT_WRAP_TTL: "" }).vault).toMatchObject({ address: DEFAULTS.address, wrapTTL: "5m" });
    expect(loadConfig({ VAULTTMPFS_LOG_FILE: "" }).logFile).toBeNull();
  });

  test("role alias, templates and the allowed-roles default", () => {
    expect(loadConfig({ VAULTTMPFS_DEFAULT_ROLE_NAME: "apps" }).roleName).toBe("apps");
    expect(loadConfig({ VAULTTMPFS_ROLE_NAME: "x", VAULTTMPFS_DEFAULT_ROLE_NAME: "apps" }).roleName).toBe("x");
    expect(loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}" }).allowedRoles).toBeNull();
    expect(loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}", VAULTTMPFS_ALLOWED_ROLES: "k8s-{namespace}-*" }).allowedRoles).toEqual(["k8s-{namespace}-*"]);
    expect(loadConfig({ VAULTTMPFS_ALLOWED_POLICIES: "{namespace}-*, shared-read," }).allowedPolicies).toEqual(["{namespace}-*", "shared-read"]);
    expect(loadConfig({ VAULTTMPFS_MAX_TTL: "2h" }).maxTtlSeconds).toBe(7200);
  });

  const bad: [string, Record<string, string>][] = [
    ["VAULT_ADDR", { VAULT_ADDR: "ftp://x" }],
    ["VAULT_ADDR", { VAULT_ADDR: "not a url" }],
    ["VAULT_MAX_RETRIES", { VAULT_MAX_RETRIES: "-1" }],
    ["VAULT_MAX_RETRY", { VAULT_MAX_RETRY: "two" }],
    ["VAULT_CLIENT_TIMEOUT", { VAULT_CLIENT_TIMEOUT: "1h30" }],
    ["VAULT_SKIP_VERIFY", { VAULT_SKIP_VERIFY: "yes" }],
    ["VAULT_WRAP_TTL", { VAULT_WRAP_TTL: "5M" }],
    ["VAULT_WRAP_TTL", { VAULT_WRAP_TTL: "-5m" }],
    ["VAULT_CLIENT_KEY", { VAULT_CLIENT_CERT: "/c.pem" }],
    ["VAULT_CLIENT_CERT", { VAULT_CLIENT_KEY: "/k.pem" }],
    ["VAULT_CACERT_BYTES", { VAULT_CACERT_BYTES: "garbage" }],
    ["VAULTTMPFS_TOKEN_FILENAME", { VAULTTMPFS_TOKEN_FILENAME: "../x" }],
    ["VAULTTMPFS_TOKEN_FILENAME", { VAULTTMPFS_TOKEN_FILENAME: "a/b" }],
    ["VAULTTMPFS_TOKEN_FILENAME", { VAULTTMPFS_TOKEN_FILENAME: ".hidden" }],
    ["VAULTTMPFS_ROLE_NAME", { VAULTTMPFS_ROLE_NAME: "bad role" }],
    ["VAULTTMPFS_ROLE_NAME", { VAULTTMPFS_ROLE_NAME: "{pod}" }],
    ["VAULTTMPFS_STATE_DIR", { VAULTTMPFS_STATE_DIR: "relative" }],
    ["VAULTTMPFS_STATE_DIR", { VAULTTMPFS_STATE_DIR: "/var/lib/kubelet/pods/x" }],
    ["VAULTTMPFS_GENERATOR_TOKEN_PATH", { VAULTTMPFS_GENERATOR_TOKEN_PATH: "token" }],
    ["VAULTTMPFS_LOG_FILE", { VAULTTMPFS_LOG_FILE: "log.txt" }],
    ["VAULTTMPFS_MAX_TTL", { VAULTTMPFS_MAX_TTL: "0" }],
  ];
  test.each(bad)("a malformed %s is a ConfigError naming it", (variable, env) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message.startsWith(`${variable}: `)).toBe(true);
  });
});
