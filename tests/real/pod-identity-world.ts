/**
 * A node in pod identity mode against the real OpenBao: OpenBao (tests/support/bao.ts)
 * with the `jwt` or `kubernetes` auth method, the tests' own API server
 * (tests/support/kube-apiserver.ts) that signs the service-account tokens,
 * one kubelet (node-1) with its kubeconfig, and the revoke-only node token
 * made by the driver's own `bootstrap --revoke-only`. Every driver call goes
 * through strace, so the tests can read the argv and environment of every
 * child the driver starts.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, Kubelet, type DriverCall, type PodSpec } from "../support/kubelet.ts";
import { startBao, findBinary, type BaoServer } from "../support/bao.ts";
import { startKubeApiServer, type KubeApiServer, type NodeCredentials } from "../support/kube-apiserver.ts";
import { testPki, unmountAllBelow, usePerFile } from "../support/world.ts";

export type AuthMethod = "jwt" | "kubernetes";

const STRACE = "/usr/bin/strace";

/** Where the suite runs: always in CI (a missing `bao` or strace then fails), else when both are installed. */
export const wanted = () => process.env.CI === "true" || (findBinary("bao") !== undefined && existsSync(STRACE));

export const NAMESPACES = ["team-a", "team-b"] as const;
export const REVOKE_ONLY_POLICY = "vaulttmpfs_revoke_only";
const POLICY_DIR = join(import.meta.dir, "..", "..", "policies");

export interface IdentityWorld {
  readonly method: AuthMethod;
  readonly bao: BaoServer;
  readonly kube: KubeApiServer;
  readonly node: NodeCredentials;
  readonly kubelet: Kubelet;
  readonly env: Record<string, string>;
  readonly root: string;
  readonly stateDir: string;
  readonly logFile: string;
  readonly revokeTokenPath: string;
  /** Every driver call's combined output, for the leak check. */
  readonly outputs: string[];
  /** Vault tokens the tests saw (wrapping and client tokens), for the leak check. */
  readonly vaultTokens: string[];
  /** A pod of `namespace`, scheduled on `nodeName` (default this node), known to the API server. */
  pod(namespace: string, opts?: { serviceAccount?: string; nodeName?: string; volume?: string }): PodSpec & { serviceAccount: string; namespace: string; name: string };
  mount(pod: PodSpec, options?: Record<string, string>, env?: Record<string, string>): Promise<DriverCall & { dir: string }>;
  unmount(dir: string): Promise<DriverCall | "skipped">;
  /** Runs an operator command of the compiled driver with the node's env. */
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Everything strace saw the driver exec (argv and environment of each child). */
  straceText(): string;
  /** Text of every file under the world's root (journal, log, state), i.e. outside any pod's tmpfs. */
  filesText(): string;
  /** Every audit-log request (path, operation), in order: what the driver really asked Vault. */
  auditRequests(): Array<{ path: string; operation: string }>;
  /** Root-token lookup of an accessor: `true` while its token is alive. */
  alive(accessor: string): Promise<boolean>;
  stop(): Promise<void>;
}

async function configureBao(bao: BaoServer, kube: KubeApiServer, method: AuthMethod): Promise<void> {
  const pki = bao.pki;
  const api = async (m: string, path: string, body?: unknown) => {
    const r = await bao.api(m, path, { token: bao.rootToken, ...(body === undefined ? {} : { body }) });
    if (r.status >= 300) throw new Error(`${m} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };
  for (const ns of NAMESPACES) await api("PUT", `sys/policies/acl/${ns}-app`, { policy: `path "secret/data/${ns}/*" { capabilities = ["read"] }` });
  await api("PUT", `sys/policies/acl/${REVOKE_ONLY_POLICY}`, { policy: readFileSync(join(POLICY_DIR, "revoke_only_policy.hcl"), "utf8") });
  await api("POST", `sys/auth/${method}`, { type: method });
  if (method === "jwt") {
    // OpenBao checks the signature itself, offline, with the cluster's public key.
    await api("POST", "auth/jwt/config", { jwt_validation_pubkeys: [kube.publicKeyPem], bound_issuer: kube.issuer });
  } else {
    // OpenBao asks our API server's TokenReview, as it would ask the cluster's.
    await api("POST", "auth/kubernetes/config", {
      kubernetes_host: kube.url,
      kubernetes_ca_cert: pki.ca,
      token_reviewer_jwt: await kube.reviewerToken("kube-system", "vault-auth"),
      disable_local_ca_jwt: true,
    });
  }
  for (const ns of NAMESPACES) {
    const common = { token_policies: [`${ns}-app`], token_ttl: "1h", token_max_ttl: "4h", token_type: "service" };
    const role =
      method === "jwt"
        ? {
            role_type: "jwt",
            user_claim: "sub",
            bound_audiences: ["vault"],
            bound_claims: { "/kubernetes.io/namespace": ns },
            claim_mappings: { "/kubernetes.io/pod/name": "pod_name", "/kubernetes.io/pod/uid": "pod_uid", "/kubernetes.io/namespace": "namespace" },
            ...common,
          }
        : { bound_service_account_names: ["*"], bound_service_account_namespaces: [ns], audience: "vault", ...common };
    await api("POST", `auth/${method}/role/${ns}`, role);
  }
}

export async function startIdentityWorld(method: AuthMethod): Promise<IdentityWorld> {
  if (!existsSync(STRACE)) throw new Error(`${process.env.CI === "true" ? "CI=true: the pod identity suite must run, not skip. " : ""}${STRACE} is missing; install it with: apt-get install -y strace`);
  const pki = await testPki();
  // The audit log lives apart from `root`, whose files the leak check reads (the log holds HMACs, not secrets, but it is not the node's).
  const auditDir = mkdtempSync(join(tmpdir(), `vaulttmpfs-identity-audit-`));
  const auditFile = join(auditDir, "audit.log");
  const audit = `audit "file" "test-audit" {\n  options {\n    file_path = "${auditFile}"\n  }\n}\n`;
  const [bao, kube] = await Promise.all([startBao({ extraConfig: audit }), startKubeApiServer(pki)]);
  const root = mkdtempSync(join(tmpdir(), `vaulttmpfs-identity-${method}-`));
  try {
    await configureBao(bao, kube, method);
    const node = await kube.nodeCredentials("node-1");
    const stateDir = join(root, "state");
    const logFile = join(root, "vaulttmpfs.log");
    const revokeTokenPath = join(root, "etc", "vaulttoken-revoke");
    const env: Record<string, string> = {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      VAULT_ADDR: bao.addr,
      VAULT_CACERT: bao.caFile,
      VAULTTMPFS_MODE: "pod-identity",
      VAULTTMPFS_KUBECONFIG: node.kubeconfigFile,
      VAULTTMPFS_AUTH_MOUNT: method,
      VAULTTMPFS_LOGIN_ROLE: "{namespace}",
      VAULTTMPFS_REVOKE_TOKEN_PATH: revokeTokenPath,
      VAULTTMPFS_STATE_DIR: stateDir,
      VAULTTMPFS_LOG_FILE: logFile,
      VAULTTMPFS_NODE_NAME: "node-1",
    };
    // The kubelet runs the driver through strace: every execve (argv and env) lands in strace-<pid>.log.
    const wrapper = join(root, "driver-under-strace.sh");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${STRACE} -f -qq -v -s 100000 -e trace=execve -o "${root}/strace-$$.log" "${BINARY}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    const kubelet = new Kubelet(join(root, "kubelet"), env, wrapper);
    const outputs: string[] = [];
    const vaultTokens: string[] = [];
    const run: IdentityWorld["run"] = async (args, extra = {}) => {
      const child = Bun.spawn([BINARY, ...args], { env: { ...env, ...extra }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      const exitCode = await child.exited;
      outputs.push(stdout, stderr);
      return { exitCode, stdout, stderr };
    };
    // The node token, made the way an operator would: VAULT_TOKEN in the environment, never in argv.
    const boot = await run(["bootstrap", "--revoke-only", "--period", "24h"], { VAULT_TOKEN: bao.rootToken });
    if (boot.exitCode !== 0) throw new Error(`bootstrap --revoke-only failed: ${boot.stdout} ${boot.stderr}`);
    let n = 0;
    const walk = (dir: string, into: string[]) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = statSync(p);
        if (st.isDirectory()) walk(p, into);
        else if (st.isFile() && st.size < 5_000_000) into.push(`${p}\n${readFileSync(p, "latin1")}`);
      }
    };
    return {
      method, bao, kube, node, kubelet, env, root, stateDir, logFile, revokeTokenPath, outputs, vaultTokens, run,
      pod(namespace, opts = {}) {
        const serviceAccount = opts.serviceAccount ?? "web";
        const name = `pod-${++n}`;
        const uid = crypto.randomUUID();
        kube.addServiceAccount(namespace, serviceAccount);
        kube.addPod({ namespace, name, uid, serviceAccount, nodeName: opts.nodeName ?? "node-1" });
        return { uid, namespace, name, serviceAccount, ...(opts.volume ? { volume: opts.volume } : {}) };
      },
      async mount(pod, options = {}, extraEnv = {}) {
        const call = await kubelet.mount(pod, options, extraEnv);
        outputs.push(call.combined);
        return call;
      },
      async unmount(dir) {
        const call = await kubelet.unmount(dir);
        if (call !== "skipped") outputs.push(call.combined);
        return call;
      },
      straceText() {
        return readdirSync(root).filter((f) => f.startsWith("strace-")).map((f) => readFileSync(join(root, f), "utf8")).join("\n");
      },
      filesText() {
        const into: string[] = [];
        walk(root, into);
        return into.join("\n");
      },
      auditRequests() {
        if (!existsSync(auditFile)) return [];
        return readFileSync(auditFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === "request").map((e) => ({ path: e.request.path, operation: e.request.operation }));
      },
      async alive(accessor) {
        const r = await bao.api("POST", "auth/token/lookup-accessor", { token: bao.rootToken, body: { accessor } });
        return r.status === 200;
      },
      async stop() {
        unmountAllBelow(root);
        await Promise.all([bao.stop(), kube.stop()]);
        rmSync(root, { recursive: true, force: true });
        rmSync(auditDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all([bao.stop(), kube.stop()]);
    rmSync(root, { recursive: true, force: true });
    rmSync(auditDir, { recursive: true, force: true });
    throw err;
  }
}

/** One world per test file, inside the private mount namespace. */
export function useIdentityWorld(method: AuthMethod): IdentityWorld {
  return usePerFile("the identity world", () => startIdentityWorld(method), 60_000);
}
