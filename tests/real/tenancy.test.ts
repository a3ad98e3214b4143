/**
 * Issue 8, item 4 against a real OpenBao: the README's multi-tenant setup
 * (policies/multi-tenant/setup.sh, run as the README shows it) gives real
 * templated roles k8s-<namespace>; the node's environment is the README's
 * kubelet block. A tenant asking for another tenant's policy is refused by
 * the driver before the server, and the server would refuse it too.
 */
import { beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mountAt } from "../support/kubelet.ts";
import { readmeShellBlocks, runOperatorShell } from "./readme.ts";
import { describeReal, podUid, useRealWorld } from "./world.ts";
import { realServersWanted } from "../support/bao.ts";

/** The `KEY=value` lines of the README's "kubelet environment on every node" block. */
function readmeKubeletEnv(): Record<string, string> {
  const block = readmeShellBlocks("Multi-tenant clusters")[0] ?? "";
  return Object.fromEntries(block.split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

const kubeletEnv = readmeKubeletEnv();
const w = useRealWorld({ noSetup: true, env: kubeletEnv });
beforeAll(async () => {
  if (!realServersWanted()) return;
  // The README's second block: setup.sh for two namespaces (it also writes the glob generator policy).
  await runOperatorShell(w.bao, readmeShellBlocks("Multi-tenant clusters")[1]!);
});

const pod = (namespace: string) => ({ uid: podUid(), namespace, name: "web-0", serviceAccount: "web" });
const creates = () => w.auditRequests().filter((r) => r.path.startsWith("auth/token/create/")).length;

describeReal("4. tenancy with real templated roles", () => {
  test("the README's kubelet environment is the templated one", () => {
    expect(kubeletEnv).toEqual({ VAULTTMPFS_ROLE_NAME: "k8s-{namespace}", VAULTTMPFS_ALLOWED_POLICIES: "{namespace}.*,shared-read" });
  });

  test("setup.sh wrote real roles with allowed_policies and the glob", async () => {
    const role = await w.bao.api("GET", "auth/token/roles/k8s-team-a", { token: w.bao.rootToken });
    expect(role.json.data).toMatchObject({ allowed_policies: ["shared-read"], allowed_policies_glob: ["team-a.*"], disallowed_policies: ["admin", "root"], orphan: true, token_period: 3600 });
  });

  test("a pod in team-a gets its own role and policies", async () => {
    const call = await w.kubelet.mount(pod("team-a"), { "vault/policies": "team-a.db, shared-read", "vault/unwrap": "true" });
    expect(call.json).toEqual({ status: "Success" });
    const self = await w.bao.api("GET", "auth/token/lookup-self", { token: readFileSync(join(call.dir, "vault-token"), "utf8") });
    expect(self.json.data).toMatchObject({ role: "k8s-team-a", policies: ["default", "shared-read", "team-a.db"], path: "auth/token/create/k8s-team-a" });
    await w.kubelet.unmount(call.dir);
  });

  test("team-a asking for team-b's policy: refused by the driver before any request; the server refuses it too", async () => {
    const before = creates();
    const call = await w.kubelet.mount(pod("team-a"), { "vault/policies": "team-b.db" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe('pod team-a/web-0 (service account "web") may not request policy "team-b.db": not allowed in namespace "team-a" by VAULTTMPFS_ALLOWED_POLICIES');
    expect(mountAt(call.dir)).toBeUndefined();
    expect(creates()).toBe(before);
    // Had it been sent, the role's own allowed policies would refuse it.
    const direct = await w.bao.api("POST", "auth/token/create/k8s-team-a", { token: w.generatorToken, body: { policies: ["team-b.db"] } });
    expect(direct.status).toBe(400);
    expect(direct.json.errors[0]).toContain('must be subset of the role\'s allowed policies (["default" "shared-read"]) or glob policies (["team-a.*"])');
  });

  test("a pod in a namespace without a role: the server's own 'unknown role'", async () => {
    const call = await w.kubelet.mount(pod("team-c"), { "vault/policies": "team-c.db" });
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/k8s-team-c: 400 unknown role k8s-team-c");
  });
});
