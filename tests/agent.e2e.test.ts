/**
 * `vaulttmpfs agent`, the compiled binary as the DaemonSet runs it: installs,
 * renews the generator token only when due, collects tokens of vanished
 * pods, logs one line per action (never a token) and stops within a second
 * of SIGTERM, even with a Vault call in flight.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../src/cli.ts";
import { defaultContext } from "../src/context.ts";
import { sha256File } from "../src/ops/install/hash.ts";
import { BINARY, requirePrivateMountNamespace } from "./support/kubelet.ts";
import { podUid, startWorld, type World } from "./support/world.ts";

let w: World;
beforeAll(async () => {
  requirePrivateMountNamespace();
  w = await startWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "5s" } });
}, 30_000);
afterAll(() => w?.stop());
afterEach(() => {
  w.vault.clearFaults();
  // A failed test must not leave an agent running (renewing, revoking) behind it.
  for (const child of spawned.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
const spawned: ReturnType<typeof Bun.spawn>[] = [];

const FAST = ["--gc-interval", "200ms", "--renew-check-interval", "200ms"];
const renewals = () => w.vault.requests.filter((r) => r.path === "auth/token/renew-self").length;
const RENEWAL_STATE = () => join(w.stateDir, "generator-renewal.json");

interface RunningAgent {
  readonly child: ReturnType<typeof Bun.spawn>;
  /** Everything printed to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text`; rejects after `timeoutMs`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then how long the exit took. */
  terminate(): Promise<{ exitCode: number | null; ms: number }>;
}

function startAgent(args: string[], env: Record<string, string> = w.env, wrapper: string[] = []): RunningAgent {
  const child = Bun.spawn([...wrapper, BINARY, "agent", ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  spawned.push(child);
  let out = "";
  let err = "";
  void (async () => {
    for await (const chunk of child.stdout) out += new TextDecoder().decode(chunk);
  })();
  void (async () => {
    for await (const chunk of child.stderr) err += new TextDecoder().decode(chunk);
  })();
  const matches = (t: string | RegExp) => (typeof t === "string" ? out.includes(t) : t.test(out));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(text, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!matches(text)) {
        if (Date.now() > deadline) throw new Error(`agent never printed ${String(text)}; stdout: ${out}; stderr: ${err}`);
        if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}; stdout: ${out}; stderr: ${err}`);
        await Bun.sleep(20);
      }
    },
    async terminate() {
      const started = performance.now();
      child.kill("SIGTERM");
      const exitCode = await child.exited;
      await Bun.sleep(20); // let the readers drain
      return { exitCode, ms: performance.now() - started };
    },
  };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("agent", () => {
  test("installs, renews once while fresh, collects a vanished pod's token, exits 0 within 1 s of SIGTERM", async () => {
    const pluginDir = join(w.root, "plugins");
    const agent = startAgent(["--plugin-dir", pluginDir, ...FAST]);
    await agent.waitFor("agent started on node node-1: renewal check every 200ms, gc every 200ms");
    const installed = join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs");
    expect(agent.stdout()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z installed cloudwatt\/vaulttmpfs at /m);
    expect(sha256File(installed).sha256).toBe(sha256File(BINARY).sha256);
    expect(statSync(installed).mode & 0o777).toBe(0o755);

    // renewal: once at start (no state yet), then never again while more than half the TTL is left
    await agent.waitFor("renew: generator token renewed, TTL 24h");
    expect(renewals()).toBe(1);
    await Bun.sleep(1000); // five more checks
    expect(renewals()).toBe(1);

    // gc: a pod whose volume dir vanished without unmount (node reboot, kubelet down)
    const uid = podUid();
    const mounted = await w.kubelet.mount({ uid, namespace: "shop", name: "web-1", serviceAccount: "web" }, { "vault/policies": "app" });
    expect(mounted.json.status).toBe("Success");
    const accessor = JSON.parse(readFileSync(join(w.stateDir, "volumes", `${uid}_vault.json`), "utf8")).accessor as string;
    await Bun.sleep(500); // a few gc passes that must keep the live volume
    expect(w.vault.lookup(accessor)).toBeDefined();
    expect(Bun.spawnSync(["umount", "-l", mounted.dir]).exitCode).toBe(0);
    rmSync(join(w.kubelet.rootDir, "pods", uid), { recursive: true });
    await until("gc to revoke the pod token", () => w.vault.lookup(accessor) === undefined);
    await agent.waitFor("gc: revoked the token of shop/web-1 volume vault (volume gone)");
    expect(existsSync(join(w.stateDir, "volumes", `${uid}_vault.json`))).toBe(false);
    expect(renewals()).toBe(1); // the mount found the agent's renewal fresh

    const { exitCode, ms } = await agent.terminate();
    expect(exitCode).toBe(0);
    expect(ms).toBeLessThan(1000);
    expect(agent.stdout()).toContain("agent stopped: received SIGTERM");
    expect(agent.stderr()).toBe("");
    for (const line of agent.stdout().trim().split("\n")) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \S/);

    const ops = readFileSync(w.logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(ops).toContainEqual(expect.objectContaining({ op: "install", result: "success" }));
    expect(ops).toContainEqual(expect.objectContaining({ op: "renew-token", result: "success", detail: "renewed, ttl 86400s" }));
    expect(ops).toContainEqual(expect.objectContaining({ op: "gc", result: "success", podUid: uid, detail: "volume gone: revoked" }));
    for (const text of [agent.stdout(), agent.stderr(), readFileSync(w.logFile, "utf8")]) expect(text).not.toContain(w.generatorToken);
  }, 30_000);

  test("a second agent finds the binary in place and leaves it alone (--no-install skips it entirely)", async () => {
    const pluginDir = join(w.root, "plugins");
    const before = statSync(join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"));
    const agent = startAgent(["--plugin-dir", pluginDir, ...FAST]);
    await agent.waitFor("agent started");
    expect(agent.stdout()).toContain("unchanged cloudwatt/vaulttmpfs at ");
    expect((await agent.terminate()).exitCode).toBe(0);
    const after = statSync(join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"));
    expect([after.ino, after.mtimeMs, after.ctimeMs]).toEqual([before.ino, before.mtimeMs, before.ctimeMs]);

    const noInstall = startAgent(["--no-install", "--plugin-dir", join(w.root, "elsewhere"), ...FAST]);
    await noInstall.waitFor("agent started");
    expect(noInstall.stdout()).not.toContain("installed");
    expect(existsSync(join(w.root, "elsewhere"))).toBe(false);
    expect((await noInstall.terminate()).exitCode).toBe(0);
  }, 30_000);

  test("a failed renewal is logged and retried at the next check", async () => {
    rmSync(RENEWAL_STATE(), { force: true });
    const before = renewals();
    w.vault.inject({ path: "auth/token/renew-self", status: 500, errors: ["internal error"], times: 2 });
    const agent = startAgent(["--no-install", ...FAST]);
    await agent.waitFor("renew: generator token renewed, TTL 24h");
    expect(renewals() - before).toBe(3);
    const failures = agent.stdout().split("\n").filter((l) => l.includes("renew: cannot renew the generator token"));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain("Vault PUT /v1/auth/token/renew-self: 500 internal error; retrying at the next check");
    expect((await agent.terminate()).exitCode).toBe(0);
  }, 30_000);

  test("SIGTERM while a Vault call hangs: exits 0 within 1 s", async () => {
    rmSync(RENEWAL_STATE(), { force: true });
    w.vault.inject({ path: "auth/token/renew-self", hang: true });
    const agent = startAgent(["--no-install", "--gc-interval", "1h", "--renew-check-interval", "1h"]);
    await w.vault.waitForRequest((r) => r.path === "auth/token/renew-self");
    await until("the request to hang", () => w.vault.hungCount > 0);
    const { exitCode, ms } = await agent.terminate();
    w.vault.releaseHung();
    expect(exitCode).toBe(0);
    expect(ms).toBeLessThan(1000);
  }, 30_000);

  test("SIGINT stops it too; bad flags exit 2; a failed install exits 1; a bad Vault config exits 1 after installing", async () => {
    const agent = startAgent(["--no-install", ...FAST]);
    await agent.waitFor("agent started");
    agent.child.kill("SIGINT");
    expect(await agent.child.exited).toBe(0);

    const bad = Bun.spawnSync([BINARY, "agent", "--gc-interval", "soon"], { env: w.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toContain(`vaulttmpfs agent: --gc-interval: time: invalid duration "soon" (use e.g. "1m", "30s" or "500ms")`);
    const zero = Bun.spawnSync([BINARY, "agent", "--renew-check-interval", "0"], { env: w.env });
    expect(zero.exitCode).toBe(2);
    expect(zero.stderr.toString()).toContain("--renew-check-interval must be between 10ms and 24h");

    const blocked = join(w.root, "plugins-is-a-file");
    writeFileSync(blocked, "");
    const noInstall = Bun.spawnSync([BINARY, "agent", "--plugin-dir", blocked], { env: w.env });
    expect(noInstall.exitCode).toBe(1);
    expect(noInstall.stderr.toString()).toContain(`vaulttmpfs agent: cannot create the driver directory ${blocked}/cloudwatt~vaulttmpfs`);
    expect(noInstall.stdout.toString()).not.toContain("agent started");

    const pluginDir = join(w.root, "plugins-badconfig");
    const broken = Bun.spawnSync([BINARY, "agent", "--plugin-dir", pluginDir], { env: { ...w.env, VAULT_ADDR: "ftp://vault" } });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr.toString()).toContain("vaulttmpfs agent: VAULT_ADDR: could not parse");
    expect(existsSync(join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"))).toBe(true);
  }, 30_000);

  test("in process (coverage): a failed revocation is retried, an unreadable journal file is reported once, the signal stops it", async () => {
    const garbage = join(w.stateDir, "volumes", "zz-garbage.json");
    mkdirSync(join(w.stateDir, "volumes"), { recursive: true });
    writeFileSync(garbage, "not json");
    const uid = podUid();
    const mounted = await w.kubelet.mount({ uid, namespace: "shop", name: "web-2" }, { "vault/policies": "app" });
    const accessor = JSON.parse(readFileSync(join(w.stateDir, "volumes", `${uid}_vault.json`), "utf8")).accessor as string;
    Bun.spawnSync(["umount", "-l", mounted.dir]);
    rmSync(join(w.kubelet.rootDir, "pods", uid), { recursive: true });
    w.vault.inject({ path: "auth/token/revoke-accessor", status: 500, errors: ["internal error"], times: 1 });

    const ctl = new AbortController();
    let out = "";
    const env = { ...w.env, VAULTTMPFS_INSTALL_SOURCE: BINARY };
    const ctx = { ...defaultContext(env), signal: ctl.signal };
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (out += `stderr: ${t}`) };
    const done = main(["agent", "--plugin-dir", join(w.root, "plugins-in-process"), ...FAST], env, io, ctx);
    try {
      await until("gc to revoke after one failure", () => w.vault.lookup(accessor) === undefined);
      await Bun.sleep(500); // more passes over the unreadable file
    } finally {
      ctl.abort(new Error("received SIGTERM"));
    }
    expect(await done).toBe(0);
    rmSync(garbage);
    expect(out).toContain("installed cloudwatt/vaulttmpfs at ");
    expect(out).toContain("gc: cannot revoke the token of shop/web-2 volume vault (volume gone): Vault POST /v1/auth/token/revoke-accessor: 500 internal error; retrying at the next pass");
    expect(out).toContain("gc: revoked the token of shop/web-2 volume vault (pending)");
    expect(out.split("\n").filter((l) => l.includes("zz-garbage.json"))).toHaveLength(1);
    expect(out).toMatch(/agent stopped: received SIGTERM\n$/);
    expect(out).not.toContain("stderr:");
  }, 30_000);

  const SETPRIV = Bun.which("setpriv");
  test.skipIf(!SETPRIV)(`with every capability dropped (the DaemonSet's securityContext) it still installs, renews and collects${SETPRIV ? "" : " [skipped: setpriv (util-linux) not installed]"}`, async () => {
    const uid = podUid();
    const mounted = await w.kubelet.mount({ uid, namespace: "shop", name: "web-3" }, { "vault/policies": "app" });
    const accessor = JSON.parse(readFileSync(join(w.stateDir, "volumes", `${uid}_vault.json`), "utf8")).accessor as string;
    Bun.spawnSync(["umount", "-l", mounted.dir]);
    rmSync(join(w.kubelet.rootDir, "pods", uid), { recursive: true });
    rmSync(RENEWAL_STATE(), { force: true }); // after the mount, which may renew too
    const before = renewals();

    const pluginDir = join(w.root, "plugins-no-caps");
    const agent = startAgent(["--plugin-dir", pluginDir, ...FAST], w.env, [SETPRIV!, "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]);
    await agent.waitFor("renew: generator token renewed");
    await until("gc to revoke", () => w.vault.lookup(accessor) === undefined);
    expect(renewals() - before).toBe(1);
    expect(existsSync(join(pluginDir, "cloudwatt~vaulttmpfs", "vaulttmpfs"))).toBe(true);
    const status = readFileSync(`/proc/${agent.child.pid}/status`, "utf8");
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect((await agent.terminate()).exitCode).toBe(0);
    expect(agent.stderr()).toBe("");
  }, 30_000);
});
