/**
 * A whole test world: a TLS Vault emulator with the seed's `applications`
 * role and a node generator token, a fake kubelet root, a state dir and a log
 * file, all under one temp dir. Tests get the kubelet's environment from here
 * and never inherit the developer's VAULT_* variables.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli.ts";
import { defaultContext } from "../../src/context.ts";
import { VaultEmulator, type EmulatorOptions } from "../emulator/index.ts";
import { afterAll, beforeAll } from "bun:test";
import { makeTestPki, type TestPki } from "./certs.ts";
import { Kubelet, requirePrivateMountNamespace } from "./kubelet.ts";

const PKI_DIR = join(tmpdir(), "vaulttmpfs-test-pki");
let pkiPromise: Promise<TestPki> | undefined;
export const testPki = () => (pkiPromise ??= makeTestPki(PKI_DIR));

export const ROLE = "applications";
export const ROLE_POLICIES = ["app", "app-read", "shared-read", "a-app", "a-db", "b-app"];

export interface World {
  readonly pki: TestPki;
  readonly vault: VaultEmulator;
  readonly root: string;
  readonly kubelet: Kubelet;
  readonly env: Record<string, string>;
  readonly generatorToken: string;
  readonly generatorAccessor: string;
  readonly stateDir: string;
  readonly logFile: string;
  readonly tokenPath: string;
  /** Runs the driver in this process (for coverage); same contract as the binary. */
  inProcess(argv: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string; json: { status: string; message?: string } }>;
  stop(): Promise<void>;
}

export async function startWorld(opts: { emulator?: Partial<EmulatorOptions>; env?: Record<string, string> } = {}): Promise<World> {
  const pki = await testPki();
  const vault = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey }, ...opts.emulator });
  vault.writeRole(ROLE, {
    allowed_policies: ROLE_POLICIES,
    disallowed_policies: ["root", "admin"],
    orphan: true,
    renewable: true,
    token_period: 3600,
  } as never);
  const generator = vault.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true, renewable: true, displayName: "generator" });
  const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-world-"));
  const tokenPath = join(root, "vaulttoken");
  writeFileSync(tokenPath, `${generator.token}\n`, { mode: 0o640 });
  const stateDir = join(root, "state");
  const logFile = join(root, "vaulttmpfs.log");
  const env: Record<string, string> = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    VAULT_ADDR: vault.url,
    VAULT_CACERT: pki.caFile,
    VAULTTMPFS_GENERATOR_TOKEN_PATH: tokenPath,
    VAULTTMPFS_STATE_DIR: stateDir,
    VAULTTMPFS_LOG_FILE: logFile,
    VAULTTMPFS_NODE_NAME: "node-1",
    ...opts.env,
  };
  const kubelet = new Kubelet(join(root, "kubelet"), env);
  return {
    pki, vault, root, kubelet, env, stateDir, logFile, tokenPath,
    generatorToken: generator.token,
    generatorAccessor: generator.accessor,
    async inProcess(argv, override) {
      let stdout = "";
      let stderr = "";
      const useEnv = override ?? env;
      const exitCode = await main(argv, useEnv, { out: (t) => void (stdout += t), err: (t) => void (stderr += t) }, defaultContext(useEnv));
      return {
        exitCode, stdout, stderr,
        get json() {
          return JSON.parse(stdout);
        },
      };
    },
    async stop() {
      await vault.stop();
      unmountAllBelow(root);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * One world per test file: started before the file's tests (inside a private
 * mount namespace only), stopped after them. The returned object forwards to
 * the live world, so tests can hold it at module level.
 */
export function useWorld(opts: Parameters<typeof startWorld>[0] = {}): World {
  return usePerFile("the test world", () => startWorld(opts), 30_000);
}

/**
 * One `start()` per test file, in its beforeAll (inside the private mount
 * namespace), stopped in its afterAll; the returned proxy forwards to what
 * started, so tests can hold it at module level. `start` may return
 * undefined to start nothing (a suite whose blocks are skipped).
 */
export function usePerFile<T extends { stop(): unknown }>(name: string, start: () => Promise<T | undefined>, timeoutMs: number): T {
  let current: T | undefined;
  beforeAll(async () => {
    requirePrivateMountNamespace();
    current = await start();
  }, timeoutMs);
  afterAll(() => current?.stop());
  return new Proxy({} as T, {
    get(_target, key) {
      if (!current) throw new Error(`${name} is not started yet (use it inside a test or hook)`);
      const value = Reflect.get(current, key);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}

/** Detaches every mount a test left under `root`, deepest first, so removing the tree cannot fail. */
export function unmountAllBelow(root: string): void {
  const points = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((p) => p.startsWith(`${root}/`));
  for (const p of points.sort((a, b) => b.length - a.length)) Bun.spawnSync(["umount", "-l", p]);
}

/** Pod UIDs shaped like the kubelet's. */
export const podUid = () => crypto.randomUUID();
