/**
 * `vaulttmpfs bootstrap` against the emulator: scripted with VAULT_TOKEN and
 * flags, and interactive LDAP typed into a real pseudo-terminal.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { PolicyRule } from "./emulator/index.ts";
import { BINARY } from "./support/kubelet.ts";
import { startWorld, type World } from "./support/world.ts";
import { bootstrapOnTerminal } from "./support/terminal.ts";

const PASSWORD = "c0rrect-h0rse-battery";
const POLICY_FILE = join(import.meta.dir, "..", "policies", "bootstrap_policy.hcl");

/** The `path "…" { capabilities = [...] }` blocks of an HCL policy: enough to load ours into the emulator. */
function hclRules(text: string): PolicyRule[] {
  const code = text.replace(/#.*$/gm, "");
  return [...code.matchAll(/path\s+"([^"]+)"\s*\{([^}]*)\}/g)].map(([, path, body]) => ({
    path: path!,
    capabilities: [...(/capabilities\s*=\s*\[([^\]]*)\]/.exec(body!)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1]!),
  }));
}

let w: World;
let dir: string;
beforeAll(async () => {
  w = await startWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "5s" } });
  w.vault.writePolicy("vaulttmpfs-bootstrap", hclRules(readFileSync(POLICY_FILE, "utf8")));
  w.vault.addLdapUser("alice", PASSWORD, ["vaulttmpfs-bootstrap"]);
}, 30_000);
afterAll(() => w?.stop());
beforeEach(() => {
  dir = mkdtempSync(join(w.root, "bootstrap-"));
  w.vault.clearRequests();
});

const mode = (p: string) => statSync(p).mode & 0o7777;
const ourTokens = () => w.vault.liveTokens().filter((t) => t.displayName === "token-vaulttmpfs-node-1");

/** Runs the binary with no controlling terminal (setsid) and stdin /dev/null, like cron or a CI job. */
async function run(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn(["setsid", "--wait", BINARY, "bootstrap", ...args], { env: { ...w.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode };
}
const asRoot = (args: string[]) => run(args, { VAULT_TOKEN: w.vault.rootToken });

describe("scripted: VAULT_TOKEN and flags", () => {
  test("writes a live, periodic, orphan generator token, 0640 in new 0750 dirs, and never prints it", async () => {
    const path = join(dir, "etc", "kubernetes", "vaulttoken");
    const r = await asRoot(["--policy", "applications_token_creator", "--period", "24h", "--path", path]);
    expect(r.exitCode).toBe(0);
    expect(mode(path)).toBe(0o640);
    expect([mode(join(dir, "etc")), mode(join(dir, "etc", "kubernetes"))]).toEqual([0o750, 0o750]);
    const token = readFileSync(path, "utf8").trim();
    const entry = w.vault.lookup(token)!;
    expect(entry).toMatchObject({ period: 86400, ttl: 86400, orphan: true, renewable: true, displayName: "token-vaulttmpfs-node-1", path: "auth/token/create-orphan" });
    expect(entry.policies).toEqual(["applications_token_creator", "default"]);
    expect(entry.meta).toEqual({ applications: "kubernetes-flexvolume-vault-plugin", node: "node-1" });
    expect(r.stdout).toContain(`written to ${path} (mode 0640)`);
    expect(r.stdout).toContain(`accessor  ${entry.accessor}`);
    expect(r.stdout).toContain("ttl       24h, periodic 24h, renewable");
    expect(r.stdout + r.stderr).not.toContain(token);
    // The path differs from the node's VAULTTMPFS_GENERATOR_TOKEN_PATH: say so.
    expect(r.stderr).toContain(`set it to ${path}`);
  });

  test("refuses to overwrite without --force, before calling Vault; --force replaces and says how to revoke the old one", async () => {
    const path = join(dir, "vaulttoken");
    expect((await asRoot(["--policy", "applications_token_creator", "--path", path])).exitCode).toBe(0);
    const first = readFileSync(path, "utf8");
    w.vault.clearRequests();
    const tokensBefore = ourTokens().length;

    const refused = await asRoot(["--policy", "applications_token_creator", "--path", path]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`${path} already exists; pass --force to replace it`);
    expect(readFileSync(path, "utf8")).toBe(first);
    expect(w.vault.requests).toEqual([]);
    expect(ourTokens()).toHaveLength(tokensBefore);

    const forced = await asRoot(["--policy", "applications_token_creator", "--path", path, "--force"]);
    expect(forced.exitCode).toBe(0);
    const second = readFileSync(path, "utf8");
    expect(second).not.toBe(first);
    const old = w.vault.lookup(first.trim())!;
    expect(old).toBeDefined(); // not revoked behind the operator's back: another node may use it
    expect(forced.stderr).toContain(`vault token revoke -accessor ${old.accessor}`);
  });

  test("a policy Vault refuses: Vault's text on stderr, exit 1, nothing written", async () => {
    const path = join(dir, "vaulttoken");
    const r = await asRoot(["--policy", "response-wrapping", "--path", path]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('cannot assign policy "response-wrapping"');
    expect(existsSync(path)).toBe(false);
  });

  test("permission denied: Vault's text and the policy file to fix it", async () => {
    w.vault.writePolicy("nothing-useful", [{ path: "secret/*", capabilities: ["read"] }]);
    const weak = w.vault.createToken({ policies: ["nothing-useful"] });
    const path = join(dir, "vaulttoken");
    const r = await run(["--policy", "applications_token_creator", "--path", path], { VAULT_TOKEN: weak.token });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("403 permission denied");
    expect(r.stderr).toContain("policies/bootstrap_policy.hcl");
    expect(existsSync(path)).toBe(false);
  });

  test("without sudo on create-orphan, Vault refuses the periodic token and the hint says why", async () => {
    w.vault.writePolicy("no-sudo", [{ path: "auth/token/create-orphan", capabilities: ["create", "update"] }]);
    const human = w.vault.createToken({ policies: ["no-sudo", "applications_token_creator"] });
    const r = await run(["--policy", "applications_token_creator", "--path", join(dir, "t")], { VAULT_TOKEN: human.token });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("root or sudo privileges required to create periodic token");
    expect(r.stderr).toContain("needs sudo on auth/token/create-orphan");
  });

  test("the shipped bootstrap policy is enough, without root", async () => {
    const human = w.vault.createToken({ policies: ["vaulttmpfs-bootstrap"] });
    const path = join(dir, "vaulttoken");
    const r = await run(["--policy", "applications_token_creator", "--path", path], { VAULT_TOKEN: human.token });
    expect(r.stderr).toContain("note:"); // only the token-path note
    expect(r.exitCode).toBe(0);
    expect(w.vault.lookup(readFileSync(path, "utf8").trim())?.orphan).toBe(true);
  });

  test("a policy that grants nothing (missing or misspelt): the new token is revoked, nothing written", async () => {
    const path = join(dir, "vaulttoken");
    const r = await asRoot(["--policy", "applications_token_creater", "--path", path]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("is not allowed create or update on auth/token/create/applications");
    expect(r.stderr).toContain("It was revoked and nothing was written");
    expect(existsSync(path)).toBe(false);
    expect(w.vault.liveTokens().filter((t) => t.policies.includes("applications_token_creater"))).toEqual([]);
  });

  test.each([
    ["a root generator", ["--policy", "root"]],
    ["a zero period", ["--period", "0"]],
    ["a relative path", ["--path", "vaulttoken"]],
    ["an unknown flag", ["--polcy", "x"]],
  ])("usage error, exit 2, nothing sent: %s", async (_name, args) => {
    const r = await asRoot(args);
    expect(r.exitCode).toBe(2);
    expect(w.vault.requests).toEqual([]);
  });

  test("with no flags and no terminal, the defaults are taken without asking (here: the node's existing token file)", async () => {
    const r = await asRoot([]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${w.tokenPath} already exists; pass --force`);
    expect(w.vault.requests).toEqual([]);
  });

  test("no VAULT_TOKEN and no terminal: a clear message, exit 1, nothing sent", async () => {
    const r = await run(["--policy", "applications_token_creator", "--path", join(dir, "t")]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe("vaulttmpfs bootstrap: no VAULT_TOKEN and no terminal: set VAULT_TOKEN or run it from a terminal for LDAP login\n");
    expect(r.stdout).toBe("");
    expect(w.vault.requests).toEqual([]);
  });
});

const onTerminal = (args: string[], opts: { stdin: "terminal" | "null"; env?: Record<string, string> }) =>
  bootstrapOnTerminal({ dir, args, env: { ...w.env, ...opts.env }, stdin: opts.stdin, promptTimeoutMs: 5000 });

describe("interactive: LDAP on a terminal", () => {
  test("asks policy, username and password; the password is not echoed, not in argv, not in the output", async () => {
    const path = join(dir, "vaulttoken");
    const t = onTerminal(["--path", path], { stdin: "terminal" });
    await t.answer("Policy for the generator token [applications_token_creator]: ", "\r");
    await t.answer("LDAP username (auth/ldap): ", "alice\r");
    await t.answer("Password for alice: ", `${PASSWORD}\r`);
    const r = await t.done();
    expect(r.exitCode).toBe(0);
    expect(r.screen).toContain("LDAP username (auth/ldap): alice"); // the username is echoed...
    expect(r.screen).not.toContain(PASSWORD); // ...the password is not
    expect(t.argv.join(" ")).not.toContain(PASSWORD);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const token = readFileSync(path, "utf8").trim();
    expect(r.stdout + r.stderr + r.screen).not.toContain(token);
    expect(r.stdout).toContain("created   with LDAP (auth/ldap) as alice");
    expect(w.vault.lookup(token)?.meta).toEqual({ applications: "kubernetes-flexvolume-vault-plugin", node: "node-1", creator: "alice" });
    // The LDAP session token was revoked once the (orphan) generator token existed.
    expect(w.vault.liveTokens().filter((e) => e.path === "auth/ldap/login/alice")).toEqual([]);
    expect(w.vault.requests.map((q) => q.path)).toContain("auth/token/revoke-self");
  });

  test("with VAULT_TOKEN: asks only for the file (default shown) and the policy, never for LDAP credentials", async () => {
    const path = join(dir, "typed", "vaulttoken");
    const t = onTerminal([], { stdin: "terminal", env: { VAULT_TOKEN: w.vault.rootToken } });
    await t.answer(`Generator token file [${w.tokenPath}]: `, `${path}\r`);
    await t.answer("Policy for the generator token [applications_token_creator]: ", "\r");
    const r = await t.done();
    expect(r.exitCode).toBe(0);
    expect(r.screen).not.toContain("LDAP");
    expect(w.vault.lookup(readFileSync(path, "utf8").trim())?.policies).toEqual(["applications_token_creator", "default"]);
    expect(r.stdout).toContain("created   with VAULT_TOKEN");
  });

  test("bad password (stdin not a terminal: read from /dev/tty): Vault's text, exit 1, nothing written", async () => {
    const path = join(dir, "vaulttoken");
    const t = onTerminal(["--path", path, "--policy", "applications_token_creator", "--username", "alice"], { stdin: "null" });
    await t.answer("Password for alice: ", "wrong-password\r");
    const r = await t.done();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("ldap operation failed: failed to bind as user");
    expect(r.screen).not.toContain("wrong-password");
    expect(existsSync(path)).toBe(false);
    expect(w.vault.requests.map((q) => q.path)).toEqual(["auth/ldap/login/alice"]);
  });

  test("Ctrl-C at the password prompt: exit 130, nothing sent", async () => {
    const t = onTerminal(["--path", join(dir, "t"), "--policy", "applications_token_creator", "--username", "alice"], { stdin: "terminal" });
    await t.answer("Password for alice: ", "abc\x03");
    const r = await t.done();
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain("interrupted; nothing was created");
    expect(w.vault.requests).toEqual([]);
  });
});
