/**
 * Output hygiene: whatever the kubelet or the node throws at the driver, the
 * combined output is exactly one JSON object, stderr is empty, nothing is
 * mounted and no token is minted.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { goJson } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld();

type Case = { name: string; argv: (dir: string, uid: string) => string[]; env?: Record<string, string>; message: RegExp; exitCode?: number };

const opts = (uid: string, user: Record<string, string>, drop: string[] = []) => {
  const o: Record<string, string> = {
    "kubernetes.io/fsType": "", "kubernetes.io/pod.name": "web", "kubernetes.io/pod.namespace": "shop",
    "kubernetes.io/pod.uid": uid, "kubernetes.io/readwrite": "rw", "kubernetes.io/serviceAccount.name": "web", ...user,
  };
  for (const k of drop) delete o[k];
  return goJson(o);
};
const ok = { "vault/policies": "app" };

const CASES: Case[] = [
  { name: "mount with no arguments", argv: () => ["mount"], message: /mount takes/ },
  { name: "mount with only a dir", argv: (d) => ["mount", d], message: /mount takes/ },
  { name: "mount with four arguments", argv: (d, u) => ["mount", d, "a", "b", opts(u, ok)], message: /mount takes/ },
  { name: "bad JSON", argv: (d) => ["mount", d, "{bad-json"], message: /not valid JSON/ },
  { name: "empty JSON string", argv: (d) => ["mount", d, ""], message: /not valid JSON/ },
  { name: "JSON array", argv: (d) => ["mount", d, "[]"], message: /JSON object/ },
  { name: "JSON null", argv: (d) => ["mount", d, "null"], message: /JSON object/ },
  { name: "number option value", argv: (d) => ["mount", d, '{"vault/policies":1}'], message: /must be a string/ },
  { name: "missing policies", argv: (d, u) => ["mount", d, opts(u, {})], message: /vault\/policies" is required/ },
  { name: "empty policies", argv: (d, u) => ["mount", d, opts(u, { "vault/policies": "" })], message: /names no policy/ },
  { name: "only commas", argv: (d, u) => ["mount", d, opts(u, { "vault/policies": " , ," })], message: /names no policy/ },
  { name: "root policy", argv: (d, u) => ["mount", d, opts(u, { "vault/policies": "app,root" })], message: /"root" is never granted/ },
  { name: "malformed policy name", argv: (d, u) => ["mount", d, opts(u, { "vault/policies": "app;rm -rf" })], message: /malformed/ },
  { name: "non-octal mode", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/filePermissions": "rw-r--r--" })], message: /octal/ },
  { name: "setuid mode", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/filePermissions": "4644" })], message: /setuid/ },
  { name: "executable mode", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/filePermissions": "0755" })], message: /execute/ },
  { name: "world-writable mode", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/filePermissions": "0646" })], message: /write/ },
  { name: "bad unwrap", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/unwrap": "yes" })], message: /vault\/unwrap/ },
  { name: "unknown vault option", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/polcies": "x" })], message: /unknown option/ },
  { name: "bad uid", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/uid": "-3" })], message: /vault\/uid/ },
  { name: "pod UID mismatch", argv: (d) => ["mount", d, opts("someone-else", ok)], message: /does not match/ },
  { name: "missing namespace", argv: (d, u) => ["mount", d, opts(u, ok, ["kubernetes.io/pod.namespace"])], message: /pod.namespace/ },
  { name: "bad readwrite", argv: (d, u) => ["mount", d, opts(u, { ...ok, "kubernetes.io/readwrite": "rx" })], message: /readwrite/ },
  { name: "relative dir", argv: (_d, u) => ["mount", "pods/x/volumes/a~b/v", opts(u, ok)], message: /form/ },
  { name: "dir with ..", argv: (d, u) => ["mount", `${d}/../../../../../../etc`, opts(u, ok)], message: /clean absolute path/ },
  { name: "dir outside the kubelet layout", argv: (_d, u) => ["mount", "/etc/passwd", opts(u, ok)], message: /form/ },
  { name: "unmount without a dir", argv: () => ["unmount"], message: /exactly one argument/ },
  { name: "unmount with an extra argument", argv: (d) => ["unmount", d, "{}"], message: /exactly one argument/ },
  { name: "unmount of a path with ..", argv: (d) => ["unmount", `${d}/../../x`], message: /clean absolute path/ },
  { name: "unmount of /", argv: () => ["unmount", "/"], message: /form/ },
  { name: "malformed VAULT_ADDR", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_ADDR: "ftp://x" }, message: /^VAULT_ADDR: / },
  { name: "malformed VAULT_MAX_RETRIES", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_MAX_RETRIES: "-1" }, message: /^VAULT_MAX_RETRIES: / },
  { name: "malformed VAULT_CLIENT_TIMEOUT", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_CLIENT_TIMEOUT: "soon" }, message: /^VAULT_CLIENT_TIMEOUT: / },
  { name: "malformed VAULT_SKIP_VERIFY", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_SKIP_VERIFY: "yes" }, message: /^VAULT_SKIP_VERIFY: / },
  { name: "malformed VAULT_WRAP_TTL", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_WRAP_TTL: "5M" }, message: /^VAULT_WRAP_TTL: / },
  { name: "token file name with a slash", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULTTMPFS_TOKEN_FILENAME: "../../etc/x" }, message: /^VAULTTMPFS_TOKEN_FILENAME: / },
  { name: "client cert without key", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_CLIENT_CERT: "/x.pem" }, message: /^VAULT_CLIENT_KEY: both client cert/ },
  { name: "missing CA file", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULT_CACERT: "/nonexistent/ca.pem" }, message: /^VAULT_CACERT: cannot read/ },
  { name: "missing generator token", argv: (d, u) => ["mount", d, opts(u, ok)], env: { VAULTTMPFS_GENERATOR_TOKEN_PATH: "/nonexistent/token" }, message: /generator token/ },
  { name: "bad role option", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/role": "../../sys" })], message: /vault\/role/ },
  { name: "role Vault does not know", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/role": "nope" })], message: /400 unknown role nope/ },
  // exit 0 on purpose: on a non-zero exit the kubelet logs the whole argv, secret values included
  // Issue 10, item 9: only a key (which only the kubelet sets) makes a Failure exit 0, never a pod author's value.
  { name: "the secretRef marker in an option value, not a key", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/filePermissions": "kubernetes.io/secret/x" })], message: /octal/, exitCode: 1 },
  { name: "the quoted secretRef marker in an option value", argv: (d, u) => ["mount", d, opts(u, { ...ok, "vault/filePermissions": '"kubernetes.io/secret/x' })], message: /octal/, exitCode: 1 },
  { name: "a secretRef (its values are in argv)", argv: (d, u) => ["mount", d, opts(u, { ...ok, "kubernetes.io/secret/password": "aHVudGVyMg==" })], message: /takes no secretRef/, exitCode: 0 },
  { name: "policy the role refuses", argv: (d, u) => ["mount", d, opts(u, { "vault/policies": "admin" })], message: /token policy "admin" is disallowed|must be subset/ },
];

test(`the corpus has at least 30 malformed inputs (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(30));

test.each(CASES.map((c) => [c.name, c] as const))("%s → one Failure object, nothing left behind", async (_name, c) => {
  const uid = podUid();
  const dir = w.kubelet.volumeDir(uid);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const livePodTokens = () => w.vault.liveTokens().filter((t) => t.meta?.creator === "kubernetes-flexvolume-vault-plugin").length;
  const before = livePodTokens();
  const call = await w.kubelet.call(c.argv(dir, uid), { ...w.env, ...c.env });
  expect(call.stderr).toBe("");
  expect(Object.keys(call.json).sort()).toEqual(["message", "status"]);
  expect(call.json.status).toBe("Failure");
  expect(call.exitCode).toBe(c.exitCode ?? 1);
  expect(call.combined).not.toContain("aHVudGVyMg==");
  expect(call.json.message).toMatch(c.message);
  expect(call.json.message!.length).toBeLessThan(1000);
  expect(call.combined).not.toContain(w.generatorToken);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(w.kubelet.rootDir);
  if (existsSync(dir)) expect(readdirSync(dir)).toEqual([]);
  expect(livePodTokens()).toBe(before);
  expect(existsSync(join(w.stateDir, "volumes")) ? readdirSync(join(w.stateDir, "volumes")) : []).toEqual([]);
});

test("the log records failures without tokens or raw options", () => {
  const log = readFileSync(w.logFile, "utf8");
  const lines = log.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.length).toBeGreaterThan(10);
  expect(lines.every((l) => l.result === "failure" && typeof l.error === "string")).toBe(true);
  expect(log).not.toContain(w.generatorToken);
  expect(log).not.toContain("kubernetes.io/pod.uid");
});
