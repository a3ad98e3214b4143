/**
 * Issue 8, item 6 against a real OpenBao and a real OpenLDAP: the README's
 * "Before the first node" commands run as written, then `bootstrap`
 * unattended with VAULT_TOKEN (the README's scripted command) and
 * interactively on a pseudo-terminal through OpenBao's built-in `ldap` auth
 * method against slapd. The token written is a real orphan periodic token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "../support/kubelet.ts";
import { realServersWanted } from "../support/bao.ts";
import { startSlapd, type Slapd } from "../support/slapd.ts";
import { bootstrapOnTerminal } from "../support/terminal.ts";
import { REPO, nodePaths, readmeInlineVaultCommands, readmeShellBlocks, runOperatorShell, writeVaultTokenHelperFile } from "./readme.ts";
import { describeReal, useRealWorld } from "./world.ts";

const PASSWORD = "c0rrect-h0rse-battery";
const w = useRealWorld({ noSetup: true });
let slapd: Slapd | undefined;
let bin: string;

beforeAll(async () => {
  if (!realServersWanted()) return;
  slapd = await startSlapd({ users: [{ uid: "alice", password: PASSWORD, groups: ["k8s-node-admins"] }, { uid: "bob", password: "bobs-password", groups: [] }] });
  // The operator's existing LDAP auth method (the README assumes one): enabled and pointed at slapd.
  expect((await w.bao.cli(["auth", "enable", "ldap"])).exitCode).toBe(0);
  // Through the API: on the CLI, bindpass=… would put a secret in argv.
  const r = await w.bao.api("POST", "auth/ldap/config", { token: w.bao.rootToken, body: slapd.baoLdapConfig() });
  if (r.status !== 204 && r.status !== 200) throw new Error(`ldap config: ${r.status} ${JSON.stringify(r.json)}`);
  // `vaulttmpfs` on the operator's PATH is the compiled binary.
  bin = join(w.root, "operator-bin");
  mkdirSync(bin);
  symlinkSync(BINARY, join(bin, "vaulttmpfs"));
}, 30_000);
afterAll(() => slapd?.stop());

const lookup = async (token: string) => (await w.bao.api("GET", "auth/token/lookup-self", { token })).json.data;
const mode = (p: string) => statSync(p).mode & 0o7777;

describeReal("6. bootstrap against OpenBao and OpenLDAP", () => {
  test("the README's table of commands (policies, LDAP group, role from JSON) runs as written", async () => {
    const commands = readmeInlineVaultCommands("Before the first node");
    expect(commands).toEqual([
      "vault policy write vaulttmpfs-bootstrap policies/bootstrap_policy.hcl",
      "vault write auth/ldap/groups/k8s-node-admins policies=vaulttmpfs-bootstrap",
      "vault policy write applications_token_creator policies/token_generator_policy.hcl",
      "vault write auth/token/roles/applications @policies/roles/applications.json",
    ]);
    for (const c of commands) await runOperatorShell(w.bao, c);
    const role = await w.bao.api("GET", "auth/token/roles/applications", { token: w.bao.rootToken });
    expect(role.json.data).toMatchObject({ allowed_policies: ["app-read", "app-write"], orphan: true, renewable: true, token_period: 3600 });
  });

  test("scripted: the README's VAULT_TOKEN command, with a token holding only the bootstrap policy", async () => {
    const home = mkdtempSync(join(w.root, "home-"));
    const admin = await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies: ["vaulttmpfs-bootstrap"], ttl: "1h" } });
    writeVaultTokenHelperFile(home, admin.json.auth.client_token);
    const path = join(w.root, "scripted", "etc", "kubernetes", "vaulttoken");
    const [block] = readmeShellBlocks("Scripted, with `VAULT_TOKEN`");
    expect(block).toContain("vaulttmpfs bootstrap");
    const script = nodePaths(block!, { "/etc/kubernetes/vaulttoken": path });
    const r = await runOperatorShell(w.bao, `exec setsid --wait sh -eu -c '${script.replaceAll("'", "'\\''")}'`, { extraPath: bin, env: { ...w.env, HOME: home, VAULT_ADDR: w.bao.addr } });
    expect(r.exitCode).toBe(0);
    expect(mode(path)).toBe(0o640);
    const token = readFileSync(path, "utf8").trim();
    expect(r.stdout + r.stderr).not.toContain(token);
    const data = await lookup(token);
    expect(data).toMatchObject({ orphan: true, period: 86400, renewable: true, policies: ["applications_token_creator", "default"], display_name: "token-vaulttmpfs-node-1", path: "auth/token/create-orphan", meta: { applications: "kubernetes-flexvolume-vault-plugin", node: "node-1" } });
    expect(data.ttl).toBeGreaterThan(86000);
  });

  test("interactive: LDAP login on a terminal as alice; the password is never echoed, in argv or in output", async () => {
    const dir = mkdtempSync(join(w.root, "tty-"));
    const path = join(dir, "vaulttoken");
    const t = onTerminal(dir, [], {});
    await t.answer(`Generator token file [${w.tokenPath}]: `, `${path}\r`);
    await t.answer("Policy for the generator token [applications_token_creator]: ", "\r");
    await t.answer("LDAP username (auth/ldap): ", "alice\r");
    await t.answer("Password for alice: ", `${PASSWORD}\r`);
    const r = await t.done();
    expect(r.stderr).not.toContain("failed");
    expect(r.exitCode).toBe(0);
    expect(r.screen).toContain("LDAP username (auth/ldap): alice");
    expect(r.screen).not.toContain(PASSWORD);
    expect(t.argv.join(" ")).not.toContain(PASSWORD);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(r.stdout).toContain("created   with LDAP (auth/ldap) as alice");
    const token = readFileSync(path, "utf8").trim();
    expect(r.stdout + r.stderr + r.screen).not.toContain(token);
    expect(await lookup(token)).toMatchObject({ orphan: true, period: 86400, policies: ["applications_token_creator", "default"], meta: { applications: "kubernetes-flexvolume-vault-plugin", node: "node-1", creator: "alice" } });
    // The LDAP session was revoked once the orphan generator existed.
    const audit = w.auditRequests().map((q) => q.path);
    expect(audit).toContain("auth/ldap/login/alice");
    expect(audit).toContain("auth/token/revoke-self");
    const list = await w.bao.api("GET", "auth/token/accessors?list=true", { token: w.bao.rootToken });
    for (const a of list.json.data.keys) {
      const d = (await w.bao.api("POST", "auth/token/lookup-accessor", { token: w.bao.rootToken, body: { accessor: a } })).json.data;
      expect(d.path).not.toBe("auth/ldap/login/alice");
    }
  });

  test("a wrong password: the server's own LDAP text, exit 1, nothing written", async () => {
    const dir = mkdtempSync(join(w.root, "tty-"));
    const path = join(dir, "vaulttoken");
    const t = onTerminal(dir, ["--path", path, "--policy", "applications_token_creator", "--username", "alice"], {});
    await t.answer("Password for alice: ", "wrong-password\r");
    const r = await t.done();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('LDAP login as "alice" on auth/ldap failed');
    expect(r.stderr).toContain("400 ldap operation failed: failed to bind as user");
    expect(r.screen).not.toContain("wrong-password");
    expect(existsSync(path)).toBe(false);
  });

  test("an LDAP user outside the admins' group logs in but may not create the token: the server's 403 and the README's hint", async () => {
    const dir = mkdtempSync(join(w.root, "tty-"));
    const path = join(dir, "vaulttoken");
    const t = onTerminal(dir, ["--path", path, "--policy", "applications_token_creator", "--username", "bob"], {});
    await t.answer("Password for bob: ", "bobs-password\r");
    const r = await t.done();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("403 permission denied; the token or LDAP user needs the policy in policies/bootstrap_policy.hcl");
    expect(existsSync(path)).toBe(false);
  });

  describe("the README's error table, as the real server answers", () => {
    /** bootstrap with VAULT_TOKEN = a fresh token holding `policies`, no terminal. */
    async function scripted(policies: string[], args: string[]) {
      const admin = await w.bao.api("POST", "auth/token/create", { token: w.bao.rootToken, body: { policies, ttl: "1h" } });
      const path = join(mkdtempSync(join(w.root, "err-")), "vaulttoken");
      const r = await w.run(["bootstrap", "--path", path, ...args], { VAULT_TOKEN: admin.json.auth.client_token });
      return { ...r, path };
    }

    test("a bootstrap policy without sudo: the server's first refusal (child policies), and the sudo hint", async () => {
      const policy = join(w.root, "nosudo.hcl");
      writeFileSync(policy, readFileSync(join(REPO, "policies", "bootstrap_policy.hcl"), "utf8").replace('"create", "update", "sudo"', '"create", "update"'));
      expect((await w.bao.cli(["policy", "write", "bootstrap-nosudo", policy])).exitCode).toBe(0);
      const r = await scripted(["bootstrap-nosudo"], ["--policy", "applications_token_creator"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain("400 child policies must be subset of parent; the bootstrap policy needs sudo on auth/token/create-orphan");
      expect(existsSync(r.path)).toBe(false);
    });

    test("a token without the bootstrap policy: 403 and the policy hint", async () => {
      const r = await scripted(["default"], ["--policy", "applications_token_creator"]);
      expect(r.stderr).toContain("403 permission denied; the token or LDAP user needs the policy in policies/bootstrap_policy.hcl");
    });

    test("--policy response-wrapping: the server refuses to assign it", async () => {
      const r = await scripted(["vaulttmpfs-bootstrap"], ["--policy", "response-wrapping"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('cannot assign policy "response-wrapping"');
    });

    test("a misspelt --policy: the server accepts it, bootstrap's capability check revokes the token and writes nothing", async () => {
      const before = (await w.bao.api("GET", "auth/token/accessors?list=true", { token: w.bao.rootToken })).json.data.keys.length;
      const r = await scripted(["vaulttmpfs-bootstrap"], ["--policy", "applications_token_creater"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain("is not allowed create or update on auth/token/create/applications");
      expect(r.stderr).toContain("It was revoked and nothing was written");
      expect(existsSync(r.path)).toBe(false);
      // Only the admin token of this test is new: the generator it made was revoked.
      expect((await w.bao.api("GET", "auth/token/accessors?list=true", { token: w.bao.rootToken })).json.data.keys.length).toBe(before + 1);
    });
  });
});

/** bootstrap on a pseudo-terminal, without the node's VAULT_TOKEN (the LDAP path). */
function onTerminal(dir: string, args: string[], env: Record<string, string>) {
  const { VAULT_TOKEN: _, ...nodeEnv } = w.env;
  return bootstrapOnTerminal({ dir, args, env: { ...nodeEnv, ...env } });
}
