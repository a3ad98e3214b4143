/**
 * Tenant isolation (namespace-bound policies and roles, decided on the node
 * before any Vault call) and file ownership (uid/gid/mode, fsGroup, read-only).
 */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountAt, runOperator } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULTTMPFS_ROLE_NAME: "k8s-{namespace}", VAULTTMPFS_ALLOWED_POLICIES: "{namespace}-*,shared-read", VAULTTMPFS_MAX_TTL: "2h" } });
beforeAll(() => {
  for (const ns of ["a", "b"]) {
    w.vault.writeRole(`k8s-${ns}`, { allowed_policies_glob: [`${ns}-*`], allowed_policies: ["shared-read"], orphan: true, token_period: 3600 } as never);
  }
});
beforeEach(() => w.vault.clearRequests());

const pod = (namespace: string, extra: Record<string, unknown> = {}) => ({ uid: podUid(), namespace, name: "web-0", serviceAccount: "web", ...extra });
const lastLog = () => JSON.parse(readFileSync(w.logFile, "utf8").trim().split("\n").at(-1)!);

describe("authorization on the node", () => {
  test("a pod in namespace a asking for b-app is refused before any Vault request", async () => {
    const call = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app,b-app" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe('pod a/web-0 (service account "web") may not request policy "b-app": not allowed in namespace "a" by VAULTTMPFS_ALLOWED_POLICIES');
    expect(w.vault.requests).toEqual([]);
    expect(mountAt(call.dir)).toBeUndefined();
    expect(lastLog()).toMatchObject({ op: "mount", result: "failure", namespace: "a", pod: "web-0", serviceAccount: "web", errorKind: "ForbiddenError", error: expect.stringContaining('"b-app"') });
  });

  test("the role is the namespace's own: k8s-{namespace}", async () => {
    const call = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app, shared-read" });
    expect(call.json.status).toBe("Success");
    const create = w.vault.requests.find((r) => r.path.startsWith("auth/token/create/"))!;
    expect(create.path).toBe("auth/token/create/k8s-a");
    expect((create.body as { policies: string[] }).policies).toEqual(["a-app", "shared-read"]);
    await w.kubelet.unmount(call.dir);
  });

  test("vault/role cannot step out of a templated role", async () => {
    const call = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app", "vault/role": "k8s-b" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toContain("may not choose vault/role");
    expect(w.vault.requests).toEqual([]);
  });

  test.each([["*"], ["a*"], ["b-*"], [".*"]])("a namespace named %p widens nothing", async (ns) => {
    const call = await w.kubelet.mount(pod(ns), { "vault/policies": "b-app" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toContain('may not request policy "b-app"');
    expect(w.vault.requests).toEqual([]);
  });

  test("vault/ttl reaches Vault, within VAULTTMPFS_MAX_TTL", async () => {
    const call = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app", "vault/ttl": "30m" });
    expect(call.json.status).toBe("Success");
    expect((w.vault.requests.find((r) => r.path.startsWith("auth/token/create/"))!.body as { ttl: string }).ttl).toBe("1800s");
    await w.kubelet.unmount(call.dir);
    const tooLong = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app", "vault/ttl": "3h" });
    expect(tooLong.json.message).toBe("vault/ttl of 10800s exceeds this node's maximum of 7200s (VAULTTMPFS_MAX_TTL)");
  });

  test("unknown vault/* options are refused with the known list", async () => {
    const call = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app", "vault/filePermission": "0400" });
    expect(call.json.message).toBe('unknown option(s) "vault/filePermission"; known options: vault/policies, vault/role, vault/unwrap, vault/filePermissions, vault/uid, vault/gid, vault/ttl');
  });
});

describe("ownership and modes", () => {
  const cases: [string, Record<string, unknown>, Record<string, string>, { uid: number; gid: number; file: number; dir: number }][] = [
    ["defaults", {}, {}, { uid: 0, gid: 0, file: 0o444, dir: 0o755 }],
    ["pod fsGroup", { fsGroup: 1234 }, {}, { uid: 0, gid: 1234, file: 0o440, dir: 0o750 }],
    ["vault/uid only", {}, { "vault/uid": "1000" }, { uid: 1000, gid: 0, file: 0o444, dir: 0o755 }],
    ["vault/uid + vault/gid", {}, { "vault/uid": "1000", "vault/gid": "2000" }, { uid: 1000, gid: 2000, file: 0o440, dir: 0o750 }],
    ["vault/gid beats fsGroup", { fsGroup: 1234 }, { "vault/gid": "2000" }, { uid: 0, gid: 2000, file: 0o440, dir: 0o750 }],
    ["explicit filePermissions", { fsGroup: 1234 }, { "vault/uid": "1000", "vault/filePermissions": "0400" }, { uid: 1000, gid: 1234, file: 0o400, dir: 0o750 }],
  ];
  test.each(cases)("%s", async (_name, podExtra, options, want) => {
    const call = await w.kubelet.mount(pod("a", podExtra), { "vault/policies": "a-app", ...options });
    expect(call.json.status).toBe("Success");
    for (const f of ["vault-token", "vault-token.json"]) {
      const st = statSync(join(call.dir, f));
      expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: want.uid, gid: want.gid, mode: want.file });
    }
    const root = statSync(call.dir);
    expect({ uid: root.uid, gid: root.gid, mode: root.mode & 0o7777 }).toEqual({ uid: want.uid, gid: want.gid, mode: want.dir });
    // ownership comes from the mount options, not from a chown after the fact
    expect(mountAt(call.dir)!.superOptions).toEqual(expect.arrayContaining([`mode=${want.dir.toString(8)}`, ...(want.uid ? [`uid=${want.uid}`] : []), ...(want.gid ? [`gid=${want.gid}`] : [])]));
    await w.kubelet.unmount(call.dir);
  });

  test("the pre-1.15 kubernetes.io/fsGroup key is honoured too", async () => {
    const call = await w.kubelet.mount(pod("a"), { "vault/policies": "a-app", "kubernetes.io/fsGroup": "42" });
    expect(statSync(join(call.dir, "vault-token")).gid).toBe(42);
    await w.kubelet.unmount(call.dir);
  });
});

describe("read-only volumes", () => {
  test("written, then remounted ro: writes fail with EROFS; unmount copes", async () => {
    const call = await w.kubelet.mount(pod("a", { readOnly: true }), { "vault/policies": "a-app" });
    expect(call.json.status).toBe("Success");
    const m = mountAt(call.dir)!;
    expect(m.mountOptions[0]).toBe("ro");
    expect(m.mountOptions).toEqual(expect.arrayContaining(["nosuid", "nodev", "noexec"]));
    expect(readFileSync(join(call.dir, "vault-token"), "utf8")).toMatch(/^hvs\./);
    expect(() => writeFileSync(join(call.dir, "x"), "x")).toThrow(/EROFS/);
    const un = await w.kubelet.unmount(call.dir);
    expect(un !== "skipped" && un.json.status).toBe("Success");
    expect(mountAt(call.dir)).toBeUndefined();
  });
});

describe("role templates that give two tenants one role (issue 10, item 8)", () => {
  test("k8s-{namespace}-{serviceaccount}: namespace a + service account b-web would get the role of a-b + web; refused, nothing minted", async () => {
    w.vault.writeRole("k8s-a-b-web", { allowed_policies: ["shared-read"], orphan: true, token_period: 3600 } as never);
    const env = { VAULTTMPFS_ROLE_NAME: "k8s-{namespace}-{serviceaccount}" };
    const call = await w.kubelet.mount({ uid: podUid(), namespace: "a", name: "web-0", serviceAccount: "b-web" }, { "vault/policies": "shared-read" }, env);
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toMatch(/^VAULTTMPFS_ROLE_NAME: "k8s-\{namespace\}-\{serviceaccount\}" gives two different tenants the same role .*: k8s_\{namespace\}_\{serviceaccount\}$/);
    expect(w.vault.requests).toEqual([]);
    const doctor = await runOperator(["doctor", "--json"], { ...w.env, ...env });
    expect(doctor.exitCode).toBe(1);
    expect(JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === "config")).toMatchObject({ status: "fail", detail: expect.stringContaining("same role") });
  });

  test("k8s_{namespace}_{serviceaccount} keeps them apart", async () => {
    w.vault.writeRole("k8s_a_b-web", { allowed_policies: ["shared-read"], orphan: true, token_period: 3600 } as never);
    const call = await w.kubelet.mount({ uid: podUid(), namespace: "a", name: "web-0", serviceAccount: "b-web" }, { "vault/policies": "shared-read" }, { VAULTTMPFS_ROLE_NAME: "k8s_{namespace}_{serviceaccount}" });
    expect(call.json.status).toBe("Success");
    expect(w.vault.requests.find((r) => r.path.startsWith("auth/token/create/"))?.path).toBe("auth/token/create/k8s_a_b-web");
    await w.kubelet.unmount(call.dir);
  });
});
