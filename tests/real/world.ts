/**
 * The real-server counterpart of tests/support/world.ts: a real OpenBao over
 * TLS (set up by the README's own "Vault setup" commands), a loopback TCP
 * proxy of the tests' own in front of it (the driver talks to the proxy, so a
 * test can make the server unreachable or hold a call), a periodic orphan
 * generator token, a fake kubelet root, state dir and log, all in temp dirs.
 */
import { describe } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realServersWanted, startBao, type BaoServer, type StartBaoOptions } from "../support/bao.ts";
import { BINARY, Kubelet } from "../support/kubelet.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { unmountAllBelow, usePerFile } from "../support/world.ts";
import { readmeShellBlocks, runOperatorShell } from "./readme.ts";

export const ROLE = "applications";
export const CREATOR = "kubernetes-flexvolume-vault-plugin";

/**
 * `describe` for the real-server suite: runs when bao and slapd are installed,
 * and always in CI, where a missing binary then fails the file's beforeAll
 * with the install command instead of skipping.
 */
export const describeReal: typeof describe = (realServersWanted() ? describe : describe.skip) as typeof describe;

export interface RealWorld {
  readonly bao: BaoServer;
  readonly proxy: TcpProxy;
  readonly root: string;
  readonly kubelet: Kubelet;
  readonly env: Record<string, string>;
  readonly stateDir: string;
  readonly logFile: string;
  readonly tokenPath: string;
  readonly generatorToken: string;
  readonly generatorAccessor: string;
  readonly auditFile: string;
  /** Runs a driver command (not a kubelet call) with the node's env; stdout, stderr and exit code. */
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** auth/token/lookup-accessor as root: the token's data, or undefined when the server says it is gone. */
  lookupAccessor(accessor: string): Promise<any | undefined>;
  /** Every audit-log request entry (paths are not hashed). */
  auditRequests(): Array<{ path: string; operation: string }>;
  stop(): Promise<void>;
}

export interface RealWorldOptions {
  env?: Record<string, string>;
  bao?: StartBaoOptions;
  /** Generator token policies (default the README's applications_token_creator). */
  generatorPolicies?: string[];
  /** Skip the README's Vault setup (a test file that runs its own). */
  noSetup?: boolean;
}

export async function startRealWorld(opts: RealWorldOptions = {}): Promise<RealWorld> {
  const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-real-"));
  const auditFile = join(root, "audit.log");
  // Declarative audit device: OpenBao 2.x refuses `vault audit enable` over the API.
  const bao = await startBao({ ...opts.bao, extraConfig: `${opts.bao?.extraConfig ?? ""}\naudit "file" "test-audit" {\n  options {\n    file_path = "${auditFile}"\n  }\n}\n` });
  const proxy = await startTcpProxy(bao.port);
  try {
    if (!opts.noSetup) for (const block of readmeShellBlocks("Vault setup")) await runOperatorShell(bao, block);
    const gen = await bao.api("POST", "auth/token/create-orphan", {
      token: bao.rootToken,
      body: { policies: opts.generatorPolicies ?? ["applications_token_creator"], period: "24h", display_name: "vaulttmpfs-node-1", meta: { node: "node-1" } },
    });
    if (gen.status !== 200) throw new Error(`generator token: ${gen.status} ${JSON.stringify(gen.json)}`);
    const tokenPath = join(root, "vaulttoken");
    writeFileSync(tokenPath, `${gen.json.auth.client_token}\n`, { mode: 0o640 });
    const stateDir = join(root, "state");
    const logFile = join(root, "vaulttmpfs.log");
    const env: Record<string, string> = {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      VAULT_ADDR: proxy.url,
      VAULT_CACERT: bao.caFile,
      VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenPath,
      VAULTTMPFS_STATE_DIR: stateDir,
      VAULTTMPFS_LOG_FILE: logFile,
      VAULTTMPFS_NODE_NAME: "node-1",
      VAULT_MAX_RETRIES: "0",
      VAULT_CLIENT_TIMEOUT: "10s",
      ...opts.env,
    };
    const kubelet = new Kubelet(join(root, "kubelet"), env);
    return {
      bao, proxy, root, kubelet, env, stateDir, logFile, tokenPath, auditFile,
      generatorToken: gen.json.auth.client_token,
      generatorAccessor: gen.json.auth.accessor,
      async run(args, extra = {}) {
        const child = Bun.spawn(["setsid", "--wait", BINARY, ...args], { env: { ...env, ...extra }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
        const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
        return { exitCode: await child.exited, stdout, stderr };
      },
      async lookupAccessor(accessor) {
        const r = await bao.api("POST", "auth/token/lookup-accessor", { token: bao.rootToken, body: { accessor } });
        if (r.status === 200) return r.json.data;
        // OpenBao: an accessor whose token is gone is a 400 "invalid accessor".
        if (r.status === 400) return undefined;
        throw new Error(`lookup-accessor: ${r.status} ${JSON.stringify(r.json)}`);
      },
      auditRequests() {
        if (!existsSync(auditFile)) return [];
        return readFileSync(auditFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === "request").map((e) => ({ path: e.request.path, operation: e.request.operation }));
      },
      async stop() {
        await proxy.stop();
        await bao.stop();
        unmountAllBelow(root);
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await proxy.stop();
    await bao.stop();
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

/** One real world per test file, like useWorld(). */
export function useRealWorld(opts: RealWorldOptions = {}): RealWorld {
  // Without the real servers the file's describeReal blocks are skipped too: start nothing.
  return usePerFile("the real world", async () => (realServersWanted() ? startRealWorld(opts) : undefined), 60_000);
}

export const podUid = () => crypto.randomUUID();
