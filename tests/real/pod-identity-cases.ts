/**
 * The pod identity scenarios, run once per auth method against the real
 * OpenBao (pod-identity-jwt.test.ts, pod-identity-kubernetes.test.ts).
 * What differs by method is only OpenBao's refusal text, passed in.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../support/bao.ts";
import { goJson, mountAt } from "../support/kubelet.ts";
import { main } from "../../src/cli.ts";
import { defaultContext } from "../../src/context.ts";
import { useIdentityWorld, wanted, type AuthMethod, type IdentityWorld } from "./pod-identity-world.ts";

export interface MethodTexts {
  /** OpenBao's refusal of a team-a token at team-b's role. */
  readonly otherNamespace: RegExp;
  readonly expired: RegExp;
  readonly wrongAudience: RegExp;
}

function journalFiles(w: IdentityWorld): string[] {
  const dir = join(w.stateDir, "volumes");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
}

function journalEntry(w: IdentityWorld, podUid: string): { accessor: string; wrappingAccessor?: string; state: string } | undefined {
  const name = journalFiles(w).find((f) => f.startsWith(`${podUid}_`));
  return name ? JSON.parse(readFileSync(join(w.stateDir, "volumes", name), "utf8")) : undefined;
}

async function accessors(w: IdentityWorld): Promise<string[]> {
  const r = await w.bao.api("GET", "auth/token/accessors?list=true", { token: w.bao.rootToken });
  return r.json.data.keys;
}

export function describeIdentityCases(method: AuthMethod, texts: MethodTexts): void {
  describe.skipIf(!wanted())(`pod identity mode with OpenBao's ${method} auth method`, () => {
    const w = useIdentityWorld(method);

    test("a pod's whole life: its own login, wrapped, journaled; revoked at unmount with the revoke-only token", async () => {
      const pod = w.pod("team-a");
      const before = w.kube.requests.length;
      const call = await w.mount(pod);
      expect(call.json).toEqual({ status: "Success" });
      expect(call.stderr).toBe("");
      // One TokenRequest, as node-1, for the pod's own service account, bound to the pod.
      const asked = w.kube.requests.slice(before);
      expect(asked.map((r) => [r.user, r.status, r.path])).toEqual([["system:node:node-1", 201, `/api/v1/namespaces/team-a/serviceaccounts/web/token`]]);
      expect((asked[0]!.body as any).spec.boundObjectRef).toEqual({ kind: "Pod", apiVersion: "v1", name: pod.name, uid: pod.uid });

      expect(mountAt(call.dir)?.fsType).toBe("tmpfs");
      const wrapping = readFileSync(join(call.dir, "vault-token"), "utf8");
      const wrapInfo = JSON.parse(readFileSync(join(call.dir, "vault-token.json"), "utf8"));
      expect(wrapInfo.creation_path).toBe(`auth/${method}/login`);
      w.vaultTokens.push(wrapping);
      const entry = journalEntry(w, pod.uid)!;
      expect(entry.accessor).toBe(wrapInfo.wrapped_accessor);
      expect(await w.alive(entry.accessor)).toBe(true);

      // The pod unwraps its token: the policies are the team-a role's, no more.
      const unwrapped = await w.bao.api("PUT", "sys/wrapping/unwrap", { token: wrapping });
      expect(unwrapped.status).toBe(200);
      w.vaultTokens.push(unwrapped.json.auth.client_token);
      expect(unwrapped.json.auth.accessor).toBe(entry.accessor);
      expect(unwrapped.json.auth.token_policies).toEqual(["default", "team-a-app"]);
      if (method === "jwt") expect(unwrapped.json.auth.metadata).toMatchObject({ role: "team-a", pod_uid: pod.uid, pod_name: pod.name, namespace: "team-a" });
      else expect(unwrapped.json.auth.metadata).toMatchObject({ role: "team-a", service_account_name: "web", service_account_namespace: "team-a" });

      const down = await w.unmount(call.dir);
      expect(down).not.toBe("skipped");
      expect((down as { json: unknown }).json).toEqual({ status: "Success" });
      expect(await w.alive(entry.accessor)).toBe(false);
      expect(journalEntry(w, pod.uid)).toBeUndefined();
      // The only node token there is: the revoke-only one. No generator token exists on this node.
      expect(existsSync("/etc/kubernetes/vaulttoken")).toBe(false);
      const lookup = await w.bao.api("GET", "auth/token/lookup-self", { token: readFileSync(w.revokeTokenPath, "utf8").trim() });
      expect(lookup.json.data.policies).toEqual(["vaulttmpfs_revoke_only"]);
      const log = readFileSync(w.logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(log.at(-1)).toMatchObject({ op: "unmount", result: "success", podUid: pod.uid, detail: expect.stringContaining("token revoked") });
    });

    test("vault/unwrap and vault/policies within what the role grants: the client token itself, revoked at unmount", async () => {
      const pod = w.pod("team-a");
      const call = await w.mount(pod, { "vault/unwrap": "true", "vault/policies": "team-a-app" });
      expect(call.json).toEqual({ status: "Success" });
      const token = readFileSync(join(call.dir, "vault-token"), "utf8");
      w.vaultTokens.push(token);
      const self = await w.bao.api("GET", "auth/token/lookup-self", { token });
      expect(self.json.data.policies).toEqual(["default", "team-a-app"]);
      await w.unmount(call.dir);
      expect((await w.bao.api("GET", "auth/token/lookup-self", { token })).status).toBe(403);
    });

    test("vault/policies with a wrapped token: one wrapped login, checked by accessor with the revoke-only token; the pod gets one token", async () => {
      const pod = w.pod("team-a");
      const before = new Set(await accessors(w));
      const audited = w.auditRequests().length;
      const call = await w.mount(pod, { "vault/policies": "team-a-app" });
      expect(call.json).toEqual({ status: "Success" });
      const entry = journalEntry(w, pod.uid)!;
      // What the driver asked OpenBao during the mount: one login, one lookup of its accessor (no second login, no unwrap).
      const asked = w.auditRequests().slice(audited).map((r) => r.path).filter((p) => !p.startsWith("sys/") && p !== "auth/token/lookup-self" && p !== "auth/token/renew-self");
      expect(asked).toEqual([`auth/${method}/login`, "auth/token/lookup-accessor"]);
      // Exactly the pod's login token and its wrapping token are new.
      const added = (await accessors(w)).filter((a) => !before.has(a));
      expect(added.sort()).toEqual([entry.accessor, entry.wrappingAccessor!].sort());
      w.vaultTokens.push(readFileSync(join(call.dir, "vault-token"), "utf8"));
      await w.unmount(call.dir);
      expect(await w.alive(entry.accessor)).toBe(false);
    });

    test("vault/policies beyond the role's: a Failure that names them, and no login token is left alive", async () => {
      const pod = w.pod("team-a");
      const before = new Set(await accessors(w));
      const call = await w.mount(pod, { "vault/policies": "team-a-app, team-b-app" });
      expect(call.json.status).toBe("Failure");
      expect(call.exitCode).toBe(1);
      expect(call.json.message).toContain(`vault/policies asks for "team-b-app", which Vault role "team-a" at auth/${method} does not grant`);
      expect(call.json.message).toContain("the driver revokes the login token");
      // The login token is dead; what may remain is its wrapping token, never written anywhere, which now wraps a dead token.
      const failed = readFileSync(w.logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.op === "mount" && r.podUid === pod.uid).at(-1);
      expect(await w.alive(failed.accessor)).toBe(false);
      for (const a of (await accessors(w)).filter((x) => !before.has(x))) {
        const left = await w.bao.api("POST", "auth/token/lookup-accessor", { token: w.bao.rootToken, body: { accessor: a } });
        expect(left.json.data.policies).toEqual(["response-wrapping"]);
      }
      expect(existsSync(call.dir)).toBe(false);
      expect(journalEntry(w, pod.uid)).toBeUndefined();
    });

    test("a tenant asking for another namespace's role: refused by the driver before any request, and by OpenBao if forced", async () => {
      const pod = w.pod("team-a");
      const before = w.kube.requests.length;
      const refused = await w.mount(pod, { "vault/role": "team-b" });
      expect(refused.json.status).toBe("Failure");
      expect(refused.json.message).toContain("may not choose vault/role");
      expect(w.kube.requests.length).toBe(before);

      // A node misconfigured to let pods pick any role: OpenBao's role still binds the namespace.
      const forced = await w.mount(pod, { "vault/role": "team-b" }, { VAULTTMPFS_ALLOWED_ROLES: "*" });
      expect(forced.json.status).toBe("Failure");
      expect(forced.json.message).toContain(`auth/${method}/login`);
      expect(forced.json.message).toMatch(texts.otherNamespace);
      expect(journalEntry(w, pod.uid)).toBeUndefined();
    });

    test("a pod that is not on this node: the API server refuses the kubelet's TokenRequest", async () => {
      // Its service account has pods on node-1, so the Node authorizer passes; NodeRestriction refuses.
      const elsewhere = w.pod("team-a", { nodeName: "node-2" });
      const call = await w.mount(elsewhere);
      expect(call.json.status).toBe("Failure");
      expect(call.json.message).toContain(`Kubernetes API TokenRequest for service account team-a/web bound to pod ${elsewhere.name}: 403 Forbidden: serviceaccounts "web" is forbidden: node requested token bound to a pod scheduled on a different node`);
      // A service account with no pod on this node: the Node authorizer's refusal.
      const stranger = w.pod("team-b", { serviceAccount: "batch", nodeName: "node-2" });
      const call2 = await w.mount(stranger);
      expect(call2.json.message).toContain("no relationship found between node 'node-1' and this object");
      expect(journalEntry(w, elsewhere.uid)).toBeUndefined();
    }, 20_000);

    test.each([
      ["an expired service-account token", (on: boolean): void => void (w.kube.faults.expired = on), "expired" as const],
      ["a service-account token for another audience", (on: boolean): void => void (w.kube.faults.audience = on ? "not-vault" : undefined), "wrongAudience" as const],
    ])("%s: OpenBao refuses, and its message is the pod's event", async (_name, fault, text) => {
      const pod = w.pod("team-a");
      fault(true);
      try {
        const call = await w.mount(pod);
        expect(call.json.status).toBe("Failure");
        expect(call.json.message).toContain(`Vault POST /v1/auth/${method}/login:`);
        expect(call.json.message).toMatch(texts[text]);
        expect(journalEntry(w, pod.uid)).toBeUndefined();
      } finally {
        fault(false);
      }
    });

    test("an unreadable kubeconfig or a bad mode variable: a Failure naming the variable; no token is requested", async () => {
      const pod = w.pod("team-a");
      const before = { kube: w.kube.requests.length, tokens: (await accessors(w)).length };
      const missing = await w.mount(pod, {}, { VAULTTMPFS_KUBECONFIG: join(w.root, "no-such-kubelet.conf") });
      expect(missing.json).toEqual({ status: "Failure", message: `VAULTTMPFS_KUBECONFIG: ${join(w.root, "no-such-kubelet.conf")}: cannot read it (ENOENT)` });
      const ttl = await w.mount(pod, {}, { VAULTTMPFS_SA_TOKEN_TTL: "1m" });
      expect(ttl.json.message).toStartWith("VAULTTMPFS_SA_TOKEN_TTL: must be between 10m and 2^32s");
      // A misspelt mode is named as such, not reported as the token-role mode's missing vault/policies.
      const mode = await w.mount(pod, {}, { VAULTTMPFS_MODE: "pod_identity" });
      expect(mode.json.message).toStartWith('VAULTTMPFS_MODE: must be "token-role" (the default) or "pod-identity", got "pod_identity"');
      expect(w.kube.requests.length).toBe(before.kube);
      expect((await accessors(w)).length).toBe(before.tokens);
      expect(journalEntry(w, pod.uid)).toBeUndefined();
    });

    test("Vault down at unmount: the volume goes, the revocation waits in the journal, gc does it once Vault is back", async () => {
      const pod = w.pod("team-b");
      const call = await w.mount(pod);
      expect(call.json).toEqual({ status: "Success" });
      w.vaultTokens.push(readFileSync(join(call.dir, "vault-token"), "utf8"));
      const entry = journalEntry(w, pod.uid)!;
      const saved = w.kubelet.env;
      w.kubelet.env = { ...saved, VAULT_ADDR: `https://127.0.0.1:${freePort()}`, VAULT_MAX_RETRIES: "0" };
      try {
        const down = await w.unmount(call.dir);
        expect((down as { json: unknown }).json).toEqual({ status: "Success" });
      } finally {
        w.kubelet.env = saved;
      }
      expect(existsSync(call.dir)).toBe(false);
      expect(journalEntry(w, pod.uid)?.state).toBe("pending");
      expect(await w.alive(entry.accessor)).toBe(true);

      const gc = await w.run(["gc", "--json"]);
      expect(gc.exitCode).toBe(0);
      const report = JSON.parse(gc.stdout);
      expect(report.items).toContainEqual(expect.objectContaining({ podUid: pod.uid, action: "revoked", reason: "pending" }));
      expect(await w.alive(entry.accessor)).toBe(false);
      expect(journalEntry(w, pod.uid)).toBeUndefined();
    });

    test("the revoke-only token revokes but cannot create a token (asked at the server), and doctor says so", async () => {
      const token = readFileSync(w.revokeTokenPath, "utf8").trim();
      for (const path of ["auth/token/create", "auth/token/create-orphan", "auth/token/create/anything"]) {
        const r = await w.bao.api("POST", path, { token, body: { policies: ["team-a-app"] } });
        expect([path, r.status]).toEqual([path, 403]);
        expect(String(r.json.errors)).toContain("permission denied");
      }
      const role = await w.bao.api("POST", `auth/${method}/role/team-a`, { token, body: { token_policies: ["root"] } });
      expect(role.status).toBe(403);
      const victim = await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies: ["team-a-app"] } });
      const revoke = await w.bao.api("POST", "auth/token/revoke-accessor", { token, body: { accessor: victim.json.auth.accessor } });
      expect(revoke.status).toBe(204);

      const doctor = await w.run(["doctor", "--json"]);
      const checks = Object.fromEntries(JSON.parse(doctor.stdout).checks.map((c: { name: string; status: string; detail: string }) => [c.name, c]));
      expect(checks.capabilities).toMatchObject({ status: "ok", detail: expect.stringContaining("may create no token") });
      expect(checks.kubeconfig.status).toBe("ok");
      expect(checks["kube-api"]).toMatchObject({ status: "ok", detail: expect.stringContaining("as node node-1") });
      // The login role is a template: only its sample ("default") can be looked for, and it does not exist.
      expect(checks["auth-method"]).toMatchObject({ status: "warn", detail: expect.stringContaining(`auth/${method} is mounted but has no role "default"`) });
      const fixed = await w.run(["doctor", "--json"], { VAULTTMPFS_LOGIN_ROLE: "team-a" });
      expect(JSON.parse(fixed.stdout).checks.find((c: { name: string }) => c.name === "auth-method")).toMatchObject({ status: "ok" });

      // A token that can mint, where the revoke-only one belongs, is a failure doctor names.
      const minting = join(w.root, "minting-token");
      const gen = await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies: ["team-a-app"], no_default_policy: false, meta: {} } });
      await w.bao.api("PUT", "sys/policies/acl/minter", { token: w.bao.rootToken, body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' } });
      const minter = await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies: ["vaulttmpfs_revoke_only", "minter"], period: "1h", no_default_policy: true } });
      writeFileSync(minting, `${minter.json.auth.client_token}\n`, { mode: 0o600 });
      w.vaultTokens.push(gen.json.auth.client_token, minter.json.auth.client_token);
      const bad = await w.run(["doctor", "--json"], { VAULTTMPFS_REVOKE_TOKEN_PATH: minting });
      expect(bad.exitCode).toBe(1);
      expect(JSON.parse(bad.stdout).checks.find((c: { name: string }) => c.name === "capabilities")).toMatchObject({ status: "fail", detail: expect.stringContaining("also has policies minter: doctor cannot prove it mints nothing") });
      // The shipped generator policy mints on auth/token/create/applications, a path no fixed sample named: doctor refuses any policy it cannot prove.
      await w.bao.api("PUT", "sys/policies/acl/generator", { token: w.bao.rootToken, body: { policy: readFileSync(join(import.meta.dir, "..", "..", "policies", "token_generator_policy.hcl"), "utf8") } });
      const generator = await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies: ["vaulttmpfs_revoke_only", "generator"], period: "1h", no_default_policy: true } });
      w.vaultTokens.push(generator.json.auth.client_token);
      writeFileSync(minting, `${generator.json.auth.client_token}\n`, { mode: 0o600 });
      const generatorDoctor = await w.run(["doctor", "--json"], { VAULTTMPFS_REVOKE_TOKEN_PATH: minting });
      expect(JSON.parse(generatorDoctor.stdout).checks.find((c: { name: string }) => c.name === "capabilities")).toMatchObject({ status: "fail", detail: expect.stringContaining("also has policies generator") });
      rmSync(minting); // the test's own file, not the driver's: keep it out of the leak check below
    });

    test("doctor with Vault down still checks the kubeconfig and the API server, names the revoke-only token, and has no role check", async () => {
      const down = await w.run(["doctor", "--json"], { VAULT_ADDR: `https://127.0.0.1:${freePort()}`, VAULT_MAX_RETRIES: "0" });
      expect(down.exitCode).toBe(1);
      const checks = JSON.parse(down.stdout).checks as Array<{ name: string; status: string; detail: string }>;
      const byName = Object.fromEntries(checks.map((c) => [c.name, c])) as Record<string, { status: string; detail: string }>;
      expect(byName.config!.detail).toContain(`mode pod-identity, login role {namespace} at auth/${method}, node node-1, revoke-only token ${w.revokeTokenPath}`);
      expect(byName.vault!.status).toBe("fail");
      expect(byName.kubeconfig!.status).toBe("ok");
      expect(byName["kube-api"]).toMatchObject({ status: "ok", detail: expect.stringContaining("as node node-1") });
      expect(byName["auth-method"]!.status).toBe("skip");
      expect(byName.token!.status).toBe("skip");
      expect(byName.role).toBeUndefined();
      expect(JSON.stringify(checks)).not.toContain("generator");
      // A missing token file names the revoke-only token and its bootstrap.
      const missing = await w.run(["doctor", "--json"], { VAULT_ADDR: `https://127.0.0.1:${freePort()}`, VAULT_MAX_RETRIES: "0", VAULTTMPFS_REVOKE_TOKEN_PATH: join(w.root, "no-such-token") });
      const file = JSON.parse(missing.stdout).checks.find((c: { name: string }) => c.name === "token-file");
      expect(file).toMatchObject({ status: "fail", fix: expect.stringContaining("vaulttmpfs bootstrap --revoke-only") });
      expect(JSON.stringify(file)).not.toContain("generator");
    });

    test("renew-token and a mount's renewal speak of the revoke-only token, never of a generator", async () => {
      const renewed = await w.run(["renew-token"]);
      expect([renewed.exitCode, renewed.stdout]).toEqual([0, "revoke-only token renewed: TTL 24h\n"]);
      const low = await w.run(["renew-token", "--min-ttl", "48h"]);
      expect(low.exitCode).toBe(1);
      expect(low.stderr).toContain('run "vaulttmpfs bootstrap --revoke-only --force" or raise its period');
      // With the renewal state gone, the next mount renews and says so in its log record.
      rmSync(join(w.stateDir, "generator-renewal.json"), { force: true });
      const pod = w.pod("team-a");
      const call = await w.mount(pod);
      expect(call.json).toEqual({ status: "Success" });
      w.vaultTokens.push(readFileSync(join(call.dir, "vault-token"), "utf8"));
      const records = readFileSync(w.logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(records.findLast((r: { op: string }) => r.op === "mount")).toMatchObject({ result: "success", detail: "revoke-only token renewed" });
      expect(await w.unmount(call.dir)).toMatchObject({ json: { status: "Success" } });
    });

    test("bootstrap --revoke-only refuses to write a token whose policy could mint", async () => {
      const path = join(w.root, "refused-token");
      await w.bao.api("PUT", "sys/policies/acl/minter", { token: w.bao.rootToken, body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' } });
      const r = await w.run(["bootstrap", "--revoke-only", "--policy", "vaulttmpfs_revoke_only,minter", "--path", path], { VAULT_TOKEN: w.bao.rootToken });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain("policy minter grants update on auth/token/create");
      expect(r.stderr).toContain("It was revoked and nothing was written");
      expect(existsSync(path)).toBe(false);
      // Without the shipped policy (and without default) the token cannot take itself back: the operator is told how, by accessor.
      const alone = await w.run(["bootstrap", "--revoke-only", "--policy", "minter", "--path", path], { VAULT_TOKEN: w.bao.rootToken });
      expect(alone.exitCode).toBe(1);
      const accessor = /vault token revoke -accessor ([A-Za-z0-9.]+)/.exec(alone.stderr)?.[1];
      expect(alone.stderr).toContain("It could not revoke itself");
      expect(existsSync(path)).toBe(false);
      expect(await w.alive(accessor!)).toBe(true);
      await w.bao.api("POST", "auth/token/revoke-accessor", { token: w.bao.rootToken, body: { accessor } });
      expect(await w.alive(accessor!)).toBe(false);
    });

    test("bootstrap --revoke-only proves the policy texts: the shipped generator policy, or a multi-tenant one, is refused by its text", async () => {
      const path = join(w.root, "refused-token");
      const generator = readFileSync(join(import.meta.dir, "..", "..", "policies", "token_generator_policy.hcl"), "utf8");
      await w.bao.api("PUT", "sys/policies/acl/generator", { token: w.bao.rootToken, body: { policy: generator } });
      await w.bao.api("PUT", "sys/policies/acl/tenants", { token: w.bao.rootToken, body: { policy: 'path "auth/token/create/k8s-*" { capabilities = ["update"] }\npath "sys/policies/acl/*" { capabilities = ["create", "update"] }' } });
      // JSON with "path" twice: OpenBao keeps both copies (so the token could create on team-*), JSON.parse only the last.
      const smuggle = `{"path": {"auth/token/create/team-*": {"capabilities": ["update"]}}, "path": {"auth/token/revoke-accessor": {"capabilities": ["update"]}}}`;
      expect((await w.bao.api("PUT", "sys/policies/acl/smuggle", { token: w.bao.rootToken, body: { policy: smuggle } })).status).toBe(204);
      for (const [policy, says] of [["generator", "policy generator grants create,update on auth/token/create/applications"], ["tenants", "policy tenants grants update on auth/token/create/k8s-*"], ["smuggle", `policy smuggle has rules bootstrap cannot read (the key "path" is repeated`]] as const) {
        const before = (await accessors(w)).length;
        const r = await w.run(["bootstrap", "--revoke-only", "--policy", `vaulttmpfs_revoke_only,${policy}`, "--path", path], { VAULT_TOKEN: w.bao.rootToken });
        expect([policy, r.exitCode]).toEqual([policy, 1]);
        expect(r.stderr).toContain(says);
        expect(r.stderr).toContain("It was revoked and nothing was written");
        expect(existsSync(path)).toBe(false);
        expect((await accessors(w)).length).toBe(before);
      }
    });

    test("bootstrap --revoke-only leaves out the default policy: a widened default gives the node token nothing (checked at the server)", async () => {
      const path = join(w.root, "no-default-token");
      const original = (await w.bao.api("GET", "sys/policies/acl/default", { token: w.bao.rootToken })).json.data.policy as string;
      await w.bao.api("PUT", "sys/policies/acl/default", { token: w.bao.rootToken, body: { policy: `${original}\npath "auth/token/create/team-*" { capabilities = ["update"] }\n` } });
      try {
        const r = await w.run(["bootstrap", "--revoke-only", "--path", path], { VAULT_TOKEN: w.bao.rootToken });
        expect(r.exitCode).toBe(0);
        const token = readFileSync(path, "utf8").trim();
        expect((await w.bao.api("POST", "auth/token/lookup", { token: w.bao.rootToken, body: { token } })).json.data.policies).toEqual(["vaulttmpfs_revoke_only"]);
        const caps = await w.bao.api("POST", "sys/capabilities", { token: w.bao.rootToken, body: { token, paths: ["auth/token/create/team-a", "auth/token/revoke-accessor"] } });
        expect(caps.json.data["auth/token/create/team-a"]).toEqual(["deny"]);
        expect(caps.json.data["auth/token/revoke-accessor"]).toEqual(["update"]);
        await w.bao.api("POST", "auth/token/revoke", { token: w.bao.rootToken, body: { token } });
        rmSync(path);
      } finally {
        await w.bao.api("PUT", "sys/policies/acl/default", { token: w.bao.rootToken, body: { policy: original } });
      }
    });

    test("bootstrap --revoke-only with an operator who may not read the policy refuses and names the bootstrap policy's fix; the shipped bootstrap policy may", async () => {
      const path = join(w.root, "proven-token");
      const shipped = readFileSync(join(import.meta.dir, "..", "..", "policies", "bootstrap_policy.hcl"), "utf8");
      const withoutRead = shipped.replace(/path "sys\/policies\/acl\/vaulttmpfs_revoke_only" \{[^}]*\}/, "");
      expect(withoutRead).not.toBe(shipped);
      await w.bao.api("PUT", "sys/policies/acl/bootstrap-old", { token: w.bao.rootToken, body: { policy: withoutRead } });
      await w.bao.api("PUT", "sys/policies/acl/bootstrap-new", { token: w.bao.rootToken, body: { policy: shipped } });
      const operator = async (policy: string) => {
        const t = (await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies: [policy], ttl: "10m" } })).json.auth.client_token as string;
        w.vaultTokens.push(t);
        return t;
      };
      const old = await w.run(["bootstrap", "--revoke-only", "--path", path], { VAULT_TOKEN: await operator("bootstrap-old") });
      expect(old.exitCode).toBe(1);
      expect(old.stderr).toContain("cannot read policy vaulttmpfs_revoke_only with VAULT_TOKEN");
      expect(old.stderr).toContain("add read on sys/policies/acl/vaulttmpfs_revoke_only to policies/bootstrap_policy.hcl");
      expect(old.stderr).toContain("The new token was revoked and nothing was written");
      expect(existsSync(path)).toBe(false);
      const ok = await w.run(["bootstrap", "--revoke-only", "--path", path], { VAULT_TOKEN: await operator("bootstrap-new") });
      expect([ok.exitCode, ok.stderr]).toEqual([0, expect.any(String)]);
      expect(ok.stdout).toContain("revoke-only token for node node-1 written");
      const written = readFileSync(path, "utf8").trim();
      w.vaultTokens.push(written);
      await w.bao.api("POST", "auth/token/revoke", { token: w.bao.rootToken, body: { token: written } });
      rmSync(path);
    });

    test("in process, for coverage: mount, doctor and unmount through main(), as the binary runs them", async () => {
      const pod = w.pod("team-a");
      const dir = w.kubelet.volumeDir(pod.uid);
      mkdirSync(dir, { recursive: true, mode: 0o750 });
      const run = async (argv: string[]) => {
        let out = "";
        let err = "";
        const code = await main(argv, w.env, { out: (t) => void (out += t), err: (t) => void (err += t) }, defaultContext(w.env));
        w.outputs.push(out, err);
        return { code, out, err };
      };
      const mounted = await run(["mount", dir, goJson(w.kubelet.mountOptions(pod, { "vault/policies": "team-a-app" }))]);
      expect([mounted.code, JSON.parse(mounted.out), mounted.err]).toEqual([0, { status: "Success" }, ""]);
      const entry = journalEntry(w, pod.uid)!;
      expect(await w.alive(entry.accessor)).toBe(true);
      w.vaultTokens.push(readFileSync(join(dir, "vault-token"), "utf8"));

      const doctor = await run(["doctor", "--json"]);
      const names = JSON.parse(doctor.out).checks.map((c: { name: string; status: string }) => `${c.name}:${c.status}`);
      expect(names).toEqual(expect.arrayContaining(["token-file:ok", "token:ok", "capabilities:ok", "kubeconfig:ok", "kube-api:ok", "auth-method:warn"]));

      const unmounted = await run(["unmount", dir]);
      expect(JSON.parse(unmounted.out)).toEqual({ status: "Success" });
      expect(await w.alive(entry.accessor)).toBe(false);
    });

    test("no secret leaks: service-account JWTs and Vault tokens are in no output, log, journal, other file, or child's argv and environment", () => {
      const jwts = w.kube.issued;
      expect(jwts.length).toBeGreaterThanOrEqual(5);
      const trace = w.straceText();
      // The check is not vacuous: strace saw the driver start mount and umount.
      expect(trace).toMatch(/execve\("[^"]*\/mount", \["[^"]*mount", "-t", "tmpfs"/);
      expect(trace).toMatch(/execve\("[^"]*\/umount"/);
      const revokeToken = readFileSync(w.revokeTokenPath, "utf8").trim();
      const haystacks: [string, string][] = [
        ["driver output", w.outputs.join("\n")],
        ["children's argv and env (strace)", trace],
        ["files outside the pods' tmpfs (journal, log, state)", w.filesText().replaceAll(`${w.revokeTokenPath}\n${revokeToken}\n`, "")],
      ];
      expect(w.outputs.join("").length).toBeGreaterThan(0);
      expect(readFileSync(w.logFile, "utf8")).toContain('"op":"mount"');
      for (const [where, text] of haystacks) {
        for (const secret of [...jwts, ...w.vaultTokens, revokeToken]) {
          // Also the JWT's signature alone: a log that cut the token would still leak it.
          const needle = secret.split(".").at(-1)!;
          if (text.includes(needle)) throw new Error(`a secret (${secret.slice(0, 6)}…) appears in ${where}`);
        }
      }
    });
  });
}
