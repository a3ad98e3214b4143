import { describe, expect, test } from "bun:test";
import { loadConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { IDENTITY_DEFAULTS } from "./config.ts";

const pi = (env: Record<string, string> = {}) => loadConfig({ VAULTTMPFS_MODE: "pod-identity", ...env });

describe("pod identity configuration", () => {
  test("the default mode is token-role, unchanged: no pod identity config, the generator is the node token", () => {
    const c = loadConfig({});
    expect(c.podIdentity).toBeNull();
    expect(c.nodeToken).toEqual({ path: c.generatorTokenPath, kind: "generator" });
    expect(loadConfig({ VAULTTMPFS_MODE: "token-role" }).podIdentity).toBeNull();
  });

  test("defaults in pod identity mode; the node token is the revoke-only one", () => {
    const c = pi();
    expect(c.podIdentity).toEqual({ ...IDENTITY_DEFAULTS });
    expect(c.podIdentity).toMatchObject({ kubeconfig: "/etc/kubernetes/kubelet.conf", audience: "vault", tokenTtlSeconds: 600, authMount: "kubernetes", loginRole: "{namespace}" });
    expect(c.nodeToken).toEqual({ path: "/etc/kubernetes/vaulttoken-revoke", kind: "revoke-only" });
    // A templated login role forbids vault/role unless VAULTTMPFS_ALLOWED_ROLES lists it.
    expect(c.allowedRoles).toBeNull();
    expect(pi({ VAULTTMPFS_LOGIN_ROLE: "apps" }).allowedRoles).toEqual(["*"]);
  });

  test("every variable parsed", () => {
    const c = pi({
      VAULTTMPFS_KUBECONFIG: "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
      VAULTTMPFS_SA_AUDIENCE: "https://vault.example",
      VAULTTMPFS_SA_TOKEN_TTL: "1h",
      VAULTTMPFS_AUTH_MOUNT: "/k8s/prod/",
      VAULTTMPFS_LOGIN_ROLE: "k8s_{namespace}_{serviceaccount}",
      VAULTTMPFS_REVOKE_TOKEN_PATH: "/etc/vt/revoke",
    });
    expect(c.podIdentity).toEqual({ kubeconfig: "/var/lib/rancher/k3s/agent/kubelet.kubeconfig", audience: "https://vault.example", tokenTtlSeconds: 3600, authMount: "k8s/prod", loginRole: "k8s_{namespace}_{serviceaccount}", revokeTokenPath: "/etc/vt/revoke" });
    expect(c.nodeToken.path).toBe("/etc/vt/revoke");
  });

  test("a login role template that gives two tenants one role is refused, naming VAULTTMPFS_LOGIN_ROLE", () => {
    expect(() => pi({ VAULTTMPFS_LOGIN_ROLE: "k8s-{namespace}-{serviceaccount}" })).toThrow(/^VAULTTMPFS_LOGIN_ROLE: "k8s-\{namespace\}-\{serviceaccount\}" gives two different tenants the same role .*: k8s_\{namespace\}_\{serviceaccount\}$/);
    expect(pi({ VAULTTMPFS_LOGIN_ROLE: "k8s_{namespace}_{serviceaccount}" }).podIdentity?.loginRole).toBe("k8s_{namespace}_{serviceaccount}");
  });

  test("token-role settings this mode ignores are not judged: a leftover colliding VAULTTMPFS_ROLE_NAME, a relative generator path, a bad max TTL", () => {
    const c = pi({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}-{serviceaccount}", VAULTTMPFS_GENERATOR_TOKEN_PATH: "vaulttoken", VAULTTMPFS_MAX_TTL: "forever" });
    expect(c.podIdentity).not.toBeNull();
    expect(c.maxTtlSeconds).toBeNull();
    // The same values still fail token-role mode, each naming its variable.
    expect(() => loadConfig({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}-{serviceaccount}" })).toThrow(/^VAULTTMPFS_ROLE_NAME: /);
    expect(() => loadConfig({ VAULTTMPFS_GENERATOR_TOKEN_PATH: "vaulttoken" })).toThrow(/^VAULTTMPFS_GENERATOR_TOKEN_PATH: /);
    expect(() => loadConfig({ VAULTTMPFS_MAX_TTL: "forever" })).toThrow(/^VAULTTMPFS_MAX_TTL: /);
  });

  test.each([
    ["VAULTTMPFS_MODE", { VAULTTMPFS_MODE: "pod_identity" }, "must be \"token-role\" (the default) or \"pod-identity\""],
    ["VAULTTMPFS_KUBECONFIG", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_KUBECONFIG: "kubelet.conf" }, "absolute path"],
    ["VAULTTMPFS_SA_AUDIENCE", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_SA_AUDIENCE: "vault,api" }, "one audience"],
    ["VAULTTMPFS_SA_TOKEN_TTL", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_SA_TOKEN_TTL: "5m" }, "between 10m and 2^32s"],
    ["VAULTTMPFS_SA_TOKEN_TTL", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_SA_TOKEN_TTL: "ten minutes" }, "could not parse"],
    ["VAULTTMPFS_AUTH_MOUNT", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_AUTH_MOUNT: "k8s/../sys" }, "not a Vault auth mount path"],
    ["VAULTTMPFS_LOGIN_ROLE", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_LOGIN_ROLE: "{pod}" }, "not a valid Vault role name"],
    ["VAULTTMPFS_REVOKE_TOKEN_PATH", { VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_REVOKE_TOKEN_PATH: "revoke" }, "absolute path"],
  ])("a bad %s is a Failure naming it", (variable, env, text) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).toStartWith(`${variable}: `);
    expect((err as Error).message).toContain(text);
  });

  test("pod identity variables are not read in token-role mode (a node keeps working while they are prepared)", () => {
    expect(loadConfig({ VAULTTMPFS_SA_TOKEN_TTL: "1s" }).podIdentity).toBeNull();
  });
});
