/**
 * `npm run demo`: the whole life of a pod's Vault token on this machine.
 * Starts the bundled Vault emulator on loopback (TLS, with test certificates),
 * creates the `applications` role and a node generator token, then plays the
 * kubelet against the compiled driver: init, mount into a temporary pod dir,
 * show the files and what the token unwraps to, unmount, show it revoked.
 * Runs in a private mount namespace (tests/in-namespace.sh), as root or, where
 * unprivileged user namespaces are allowed, as a normal user.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VaultEmulator } from "./emulator/index.ts";
import { makeTestPki } from "./support/certs.ts";
import { Kubelet } from "./support/kubelet.ts";

const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-demo-"));
const pki = await makeTestPki(join(root, "pki"));
const vault = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
const say = (s = "") => console.log(s);
const step = (s: string) => say(`\n\x1b[1m== ${s}\x1b[0m`);

try {
  vault.writeRole("applications", { allowed_policies: ["app", "app-read"], disallowed_policies: ["root", "admin"], orphan: true, renewable: true, token_period: 3600 } as never);
  const generator = vault.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true, displayName: "node-demo" });
  const tokenPath = join(root, "vaulttoken");
  writeFileSync(tokenPath, `${generator.token}\n`, { mode: 0o600 });
  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    VAULT_ADDR: vault.url,
    VAULT_CACERT: pki.caFile,
    VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenPath,
    VAULTTMPFS_STATE_DIR: join(root, "state"),
    VAULTTMPFS_LOG_FILE: join(root, "vaulttmpfs.log"),
  };
  const kubelet = new Kubelet(join(root, "kubelet"), env);
  say(`Vault emulator on ${vault.url} (role "applications", generator token in ${tokenPath})`);

  step("kubelet: vaulttmpfs init");
  say((await kubelet.init()).combined.trim());

  step("kubelet: vaulttmpfs mount <dir> <options>");
  // In a user namespace only our own uid is mapped (as 0), so no other group can own the files.
  const asUser = process.env.VAULTTMPFS_TEST_USERNS === "1";
  const pod = { uid: crypto.randomUUID(), namespace: "shop", name: "web-0", serviceAccount: "web", ...(asUser ? {} : { fsGroup: 2000 }) };
  const mounted = await kubelet.mount(pod, { "vault/policies": "app,app-read" });
  say(`${mounted.combined.trim()}   (${mounted.ms.toFixed(0)} ms)`);
  if (mounted.json.status !== "Success") throw new Error("mount failed");

  step("what the pod sees");
  const mountLine = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === mounted.dir) ?? "";
  say(`${mounted.dir}\n  ${mountLine.split(" - ")[1]} (${mountLine.split(" ")[5]})`);
  for (const f of readdirSync(mounted.dir).sort()) {
    const st = statSync(join(mounted.dir, f));
    say(`  ${(st.mode & 0o777).toString(8).padStart(4, "0")} ${st.uid}:${st.gid} ${f}`);
  }
  const wrapping = readFileSync(join(mounted.dir, "vault-token"), "utf8");
  say(`  vault-token is a single-use wrapping token (${wrapping.slice(0, 8)}…)`);

  step("the app unwraps it (PUT /v1/sys/wrapping/unwrap)");
  const res = await fetch(`${vault.url}/v1/sys/wrapping/unwrap`, { method: "PUT", headers: { "X-Vault-Token": wrapping }, tls: { ca: pki.ca } } as RequestInit);
  const auth = ((await res.json()) as { auth: { client_token: string; accessor: string; policies: string[]; metadata: Record<string, string>; lease_duration: number } }).auth;
  say(`  policies: ${auth.policies.join(", ")}   ttl: ${auth.lease_duration}s`);
  say(`  metadata: ${JSON.stringify(auth.metadata)}`);

  step("kubelet: vaulttmpfs unmount <dir> (the pod is gone)");
  const un = await kubelet.unmount(mounted.dir);
  say(un === "skipped" ? "skipped" : `${un.combined.trim()}   (${un.ms.toFixed(0)} ms)`);
  say(`  pod token still alive in Vault? ${vault.lookup(auth.client_token) ? "yes" : "no: revoked with its pod"}`);
  say(`  volume dir still there? ${readdirSync(join(mounted.dir, "..")).length ? "yes" : "no"}`);

  step(`operation log (${env.VAULTTMPFS_LOG_FILE})`);
  for (const line of readFileSync(env.VAULTTMPFS_LOG_FILE, "utf8").trim().split("\n")) say(`  ${line}`);
} finally {
  await vault.stop();
  // What an operator does before removing a state dir (README, "Removing the state dir"):
  // the private staging root is a mount point of its own and outlives the volumes.
  const stagingRoot = join(root, "state", "staging");
  if (readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === stagingRoot)) {
    Bun.spawnSync(["umount", stagingRoot], { stdio: ["ignore", "inherit", "inherit"] });
  }
  rmSync(root, { recursive: true, force: true });
}
