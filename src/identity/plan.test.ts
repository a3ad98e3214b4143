import { describe, expect, test } from "bun:test";
import { loadConfig } from "../config.ts";
import { ForbiddenError, InvalidRequestError } from "../errors.ts";
import { parseMountArgs } from "../flex/options.ts";
import { planLoginRole } from "./plan.ts";

const dir = "/var/lib/kubelet/pods/0d1e2f3a-aaaa-bbbb-cccc-000000000001/volumes/cloudwatt~vaulttmpfs/vault";
const options = (extra: Record<string, string> = {}) =>
  JSON.stringify({ "kubernetes.io/pod.name": "web-1", "kubernetes.io/pod.namespace": "team-a", "kubernetes.io/pod.uid": "0d1e2f3a-aaaa-bbbb-cccc-000000000001", "kubernetes.io/serviceAccount.name": "web", ...extra });
const request = (extra: Record<string, string> = {}) => parseMountArgs([dir, options(extra)], { policiesRequired: false });

describe("pod identity mount planning", () => {
  const config = loadConfig({ VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_LOGIN_ROLE: "k8s_{namespace}" });

  test("vault/policies is optional in this mode only", () => {
    expect(request().policies).toEqual([]);
    expect(() => parseMountArgs([dir, options()])).toThrow(`option "vault/policies" is required`);
    expect(request({ "vault/policies": "A, b" }).policies).toEqual(["a", "b"]);
  });

  test("the login role comes from the node's template", () => {
    expect(planLoginRole(request(), config, config.podIdentity!)).toBe("k8s_team-a");
  });

  test("a pod choosing a role: refused with a templated login role, allowed only as VAULTTMPFS_ALLOWED_ROLES says", () => {
    expect(() => planLoginRole(request({ "vault/role": "k8s_team-b" }), config, config.podIdentity!)).toThrow(ForbiddenError);
    expect(() => planLoginRole(request({ "vault/role": "k8s_team-b" }), config, config.podIdentity!)).toThrow("its own role (VAULTTMPFS_LOGIN_ROLE=k8s_{namespace}); remove the option");
    const open = loadConfig({ VAULTTMPFS_MODE: "pod-identity", VAULTTMPFS_LOGIN_ROLE: "k8s_{namespace}", VAULTTMPFS_ALLOWED_ROLES: "k8s_{namespace}.*" });
    expect(planLoginRole(request({ "vault/role": "k8s_team-a.batch" }), open, open.podIdentity!)).toBe("k8s_team-a.batch");
    expect(() => planLoginRole(request({ "vault/role": "k8s_team-b.batch" }), open, open.podIdentity!)).toThrow("not allowed by VAULTTMPFS_ALLOWED_ROLES");
  });

  test("no service account, or vault/ttl: refused before any request", () => {
    expect(() => planLoginRole(request({ "kubernetes.io/serviceAccount.name": "" }), config, config.podIdentity!)).toThrow(InvalidRequestError);
    expect(() => planLoginRole(request({ "vault/ttl": "1h" }), config, config.podIdentity!)).toThrow("vault/ttl is not supported in pod identity mode");
  });
});
