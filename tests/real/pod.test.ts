/**
 * Issue 8, items 1–3 against a real OpenBao: a pod's whole life through the
 * compiled binary and the kubelet harness on real tmpfs, the options that
 * reach the server, and the server's own refusals in the pod's events.
 */
import { expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountAt } from "../support/kubelet.ts";
import { CREATOR, describeReal, podUid, useRealWorld } from "./world.ts";

// A second, non-periodic role `jobs` (so vault/ttl is the server's to apply),
// and a generator that may create against it.
const JOBS_CREATOR = `path "auth/token/create/jobs" {\n  capabilities = ["create", "update"]\n}\n`;
const w = useRealWorld({ generatorPolicies: ["applications_token_creator", "jobs_token_creator"], env: { VAULTTMPFS_MAX_TTL: "2h" } });

const pod = (extra: Partial<{ namespace: string; name: string; serviceAccount: string; fsGroup: number; readOnly: boolean; volume: string }> = {}) => ({
  uid: podUid(), namespace: "shop", name: `web-${Math.random().toString(36).slice(2, 7)}`, serviceAccount: "web", ...extra,
});
const file = (dir: string, name = "vault-token") => readFileSync(join(dir, name), "utf8");
const unwrap = (wrapping: string) => w.bao.api("PUT", "sys/wrapping/unwrap", { token: wrapping });
const lookupSelf = (token: string) => w.bao.api("GET", "auth/token/lookup-self", { token });

describeReal("setup for this file", () => {
  test("the jobs role and its creator policy are written with the CLI, as an operator would", async () => {
    const policy = join(w.root, "jobs_token_creator.hcl");
    writeFileSync(policy, JOBS_CREATOR);
    expect((await w.bao.cli(["policy", "write", "jobs_token_creator", policy])).exitCode).toBe(0);
    const role = await w.bao.cli(["write", "auth/token/roles/jobs", "allowed_policies=app", "orphan=true", "renewable=true", "token_ttl=1h", "token_max_ttl=3h"]);
    expect(role.stderr).toBe("");
    expect(role.exitCode).toBe(0);
  });
});

describeReal("1. a pod's whole life", () => {
  test("init; wrapped mount; the app unwraps at the server; lookup shows policies, role, metadata; unmount kills the token", async () => {
    expect((await w.kubelet.init()).json.status).toBe("Success");
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app, app-read" });
    expect(call.json).toEqual({ status: "Success" });
    expect(mountAt(call.dir)?.fsType).toBe("tmpfs");

    const wrapping = file(call.dir);
    // OpenBao's default is the legacy service-token format (no SSCTs): "s." + 24 base62.
    expect(wrapping).toMatch(/^s\.[A-Za-z0-9]{24}$/);
    const wrapInfo = JSON.parse(file(call.dir, "vault-token.json"));
    expect(wrapInfo).toMatchObject({ token: wrapping, ttl: 300, creation_path: "auth/token/create/applications" });

    const unwrapped = await unwrap(wrapping);
    expect(unwrapped.status).toBe(200);
    const podToken: string = unwrapped.json.auth.client_token;
    expect(unwrapped.json.auth.accessor).toBe(wrapInfo.wrapped_accessor);
    // Single use: a second unwrap is refused by the server.
    expect((await unwrap(wrapping)).status).toBe(400);

    const self = await lookupSelf(podToken);
    expect(self.status).toBe(200);
    expect(self.json.data.policies).toEqual(["app", "app-read", "default"]);
    expect(self.json.data.role).toBe("applications");
    expect(self.json.data.orphan).toBe(true);
    // The role's token_period: a 1h TTL. OpenBao 2.6.2's lookup shows no `period` key for it (see DIFFERENCES.md).
    expect(self.json.data.creation_ttl).toBe(3600);
    expect(self.json.data.meta).toEqual({ poduid: p.uid, namespace: "shop", pod: p.name, serviceaccount: "web", volume: "vault", node: "node-1", creator: CREATOR });

    const un = await w.kubelet.unmount(call.dir);
    expect(un !== "skipped" && un.json.status).toBe("Success");
    expect(mountAt(call.dir)).toBeUndefined();
    expect((await lookupSelf(podToken)).status).toBe(403);
    expect(await w.lookupAccessor(wrapInfo.wrapped_accessor)).toBeUndefined();
  });

  test("a wrapping token the app never used is left to its wrap TTL at unmount: it unwraps only to a dead token", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    const wrapping = file(call.dir);
    const wrapInfo = JSON.parse(file(call.dir, "vault-token.json"));
    expect(await w.lookupAccessor(wrapInfo.accessor)).toMatchObject({ policies: ["response-wrapping"], num_uses: 1 });
    await w.kubelet.unmount(call.dir);
    // One revoke-accessor per pod (README, "Two Vault requests per pod"): the pod token goes, the wrapping token expires on its own.
    expect(await w.lookupAccessor(wrapInfo.wrapped_accessor)).toBeUndefined();
    expect(await w.lookupAccessor(wrapInfo.accessor)).toMatchObject({ policies: ["response-wrapping"] });
    const unwrapped = await unwrap(wrapping);
    expect(unwrapped.status).toBe(200);
    expect(unwrapped.json.auth.accessor).toBe(wrapInfo.wrapped_accessor);
    expect((await lookupSelf(unwrapped.json.auth.client_token)).status).toBe(403);
    expect((await unwrap(wrapping)).status).toBe(400); // and it was single-use
  });
});

describeReal("2. options that reach the server", () => {
  test("vault/unwrap: the file holds the pod token itself and the JSON the whole response", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/unwrap": "true" });
    expect(call.json.status).toBe("Success");
    const token = file(call.dir);
    const response = JSON.parse(file(call.dir, "vault-token.json"));
    expect(response.auth.client_token).toBe(token);
    expect(response.wrap_info).toBeNull();
    expect((await lookupSelf(token)).json.data.policies).toEqual(["app", "default"]);
    await w.kubelet.unmount(call.dir);
    expect((await lookupSelf(token)).status).toBe(403);
  });

  test("vault/role and vault/ttl: the server applies the other role and the requested TTL", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/unwrap": "true", "vault/role": "jobs", "vault/ttl": "30m" });
    expect(call.json).toEqual({ status: "Success" });
    const data = (await lookupSelf(file(call.dir))).json.data;
    expect(data.role).toBe("jobs");
    expect(data.period).toBeUndefined();
    expect(data.creation_ttl).toBe(1800);
    expect(data.ttl).toBeGreaterThan(1700);
    expect(data.ttl).toBeLessThanOrEqual(1800);
    await w.kubelet.unmount(call.dir);
  });

  test("vault/ttl above VAULTTMPFS_MAX_TTL is refused by the driver, before the server", async () => {
    const before = w.auditRequests().filter((r) => r.path.startsWith("auth/token/create/")).length;
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/role": "jobs", "vault/ttl": "3h" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toContain("VAULTTMPFS_MAX_TTL");
    expect(w.auditRequests().filter((r) => r.path.startsWith("auth/token/create/")).length).toBe(before);
  });

  test("read-only volume, uid/gid and fsGroup: the files' owner and mode, a working token", async () => {
    const call = await w.kubelet.mount(pod({ readOnly: true, fsGroup: 2000 }), { "vault/policies": "app", "vault/unwrap": "true", "vault/uid": "1000" });
    expect(call.json.status).toBe("Success");
    expect(mountAt(call.dir)?.mountOptions).toContain("ro");
    const st = statSync(join(call.dir, "vault-token"));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1000, 2000, 0o440]);
    expect((await lookupSelf(file(call.dir))).status).toBe(200);
    const call2 = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/unwrap": "true", "vault/uid": "1000", "vault/gid": "3000" });
    const st2 = statSync(join(call2.dir, "vault-token"));
    expect([st2.uid, st2.gid]).toEqual([1000, 3000]);
    await w.kubelet.unmount(call.dir);
    await w.kubelet.unmount(call2.dir);
  });
});

describeReal("3. the server's own refusals reach the pod's events", () => {
  test("a policy the role disallows: with allowed_policies set, the server's subset check answers first", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "admin" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe(`Vault POST /v1/auth/token/create/applications: 400 token policies (["admin" "default"]) must be subset of the role's allowed policies (["app" "app-read" "default"]) or glob policies ([])`);
  });

  test("a policy outside the role's allowed policies", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app,billing" });
    expect(call.json.message).toBe(`Vault POST /v1/auth/token/create/applications: 400 token policies (["app" "billing" "default"]) must be subset of the role's allowed policies (["app" "app-read" "default"]) or glob policies ([])`);
  });

  test("a role the generator token has no right to create against", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/role": "nonexistent" });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/nonexistent: 403 permission denied");
  });

  test("a role that does not exist, with a generator allowed to create against any role", async () => {
    const any = await w.bao.api("POST", "auth/token/create-orphan", { token: w.bao.rootToken, body: { policies: ["root-less-any"], period: "1h" } });
    const policy = join(w.root, "any.hcl");
    writeFileSync(policy, `path "auth/token/create/*" {\n  capabilities = ["create", "update"]\n}\n`);
    expect((await w.bao.cli(["policy", "write", "root-less-any", policy])).exitCode).toBe(0);
    const tokenFile = join(w.root, "any-token");
    writeFileSync(tokenFile, any.json.auth.client_token, { mode: 0o600 });
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/role": "nonexistent" }, { VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenFile });
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/nonexistent: 400 unknown role nonexistent");
  });

  test("an expired generator token: the server's 403, and the mount fails", async () => {
    const short = await w.bao.api("POST", "auth/token/create-orphan", { token: w.bao.rootToken, body: { policies: ["applications_token_creator"], ttl: "1s", renewable: false } });
    const tokenFile = join(w.root, "expired-token");
    writeFileSync(tokenFile, short.json.auth.client_token, { mode: 0o600 });
    await Bun.sleep(2100);
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" }, { VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenFile });
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toBe("Vault POST /v1/auth/token/create/applications: 403 permission denied");
  });
});
