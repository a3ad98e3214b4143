/**
 * The chaos suite: a seeded random run of many pods through mount and
 * unmount, the way the kubelet drives the compiled driver, while Vault
 * misbehaves (429, 5xx, resets, requests held past VAULT_CLIENT_TIMEOUT,
 * creates processed after the client's deadline, Vault down for seconds),
 * driver processes die by SIGKILL at random moments, the kubelet restarts
 * (only `unmount` arrives later), pod dirs are deleted behind the driver's
 * back, and `gc` runs in parallel. Afterwards, with Vault healthy and one
 * final `gc`, it counts what must be zero. Same seed, same decisions.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { TOKEN_CREATOR } from "../../src/token/mint.ts";
import { DRIVER_DIR, KILLED, runOperator, type DriverCall } from "../support/kubelet.ts";
import { startWorld, type World } from "../support/world.ts";

export interface ChaosOptions {
  readonly seed: number;
  readonly pods: number;
  /** Most driver calls (mount/unmount) running at once. */
  readonly concurrency: number;
  /** VAULT_CLIENT_TIMEOUT for the run, in seconds. */
  readonly timeoutSeconds: number;
  readonly log?: (line: string) => void;
}

export interface ChaosReport {
  readonly seed: number;
  readonly pods: number;
  readonly seconds: number;
  readonly calls: { mount: number; unmount: number; gc: number; killed: number; success: number; failure: number };
  readonly faults: Record<string, number>;
  readonly scenarios: Record<string, number>;
  /** Live pod tokens after the final gc, each with why it may live (or "UNJUSTIFIED"). */
  readonly leakedTokens: { accessor: string; podUid: string; why: string }[];
  readonly leakedMounts: string[];
  readonly volumeDirs: string[];
  readonly journalFiles: string[];
  readonly tempFiles: string[];
  readonly tokensInOutput: string[];
  readonly badOutputs: string[];
  readonly slowCalls: string[];
  readonly finalGcExit: number;
  /** What the gc runs reported recovering: journal temp files of killed writes, staging mounts of killed mounts, revoked entries. */
  readonly gcRecovered: { crashedWrites: number; staging: number; revoked: number };
  readonly boundMs: number;
  /** Everything that must be zero is. */
  readonly ok: boolean;
}

/** mulberry32: small, seedable, good enough to pick faults. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A TCP proxy in front of the emulator that can go down (refuse connections, reset the open ones) and come back on the same port. */
async function tcpProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", () => resolve()));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  let up = true;
  return {
    url: `https://127.0.0.1:${port}`,
    get up() {
      return up;
    },
    async down() {
      if (!up) return;
      up = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async restore() {
      if (up) return;
      for (let i = 0; ; i++) {
        try {
          await listen(port);
          break;
        } catch (err) {
          if (i > 50) throw err;
          await Bun.sleep(20);
        }
      }
      up = true;
    },
    async close() {
      await this.down();
    },
  };
}

/** A counting semaphore: at most `n` driver calls at once. */
function semaphore(n: number) {
  let free = n;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

const TOKEN_SHAPE = /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/g;

function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      return st.isDirectory() ? filesBelow(path) : st.isFile() ? [path] : [];
    } catch {
      return [];
    }
  });
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const say = opts.log ?? (() => {});
  const rand = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const chance = (p: number) => rand() < p;
  const uuid = () => {
    const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const timeoutMs = opts.timeoutSeconds * 1000;
  // A mount makes at most: 2 revocations of an earlier attempt, a renewal, a create, 2 rollback
  // revocations, each bounded by VAULT_CLIENT_TIMEOUT; plus lock waits and the mount commands.
  const boundMs = 6 * timeoutMs + 8000;

  const started = performance.now();
  const world: World = await startWorld({ env: { VAULT_CLIENT_TIMEOUT: `${opts.timeoutSeconds}s`, VAULT_MAX_RETRIES: "2", VAULTTMPFS_NODE_NAME: "chaos" } });
  const proxy = await tcpProxy(new URL(world.vault.url));
  const kubelet = world.kubelet;
  kubelet.env = { ...kubelet.env, VAULT_ADDR: proxy.url };
  const env = kubelet.env;

  const calls = { mount: 0, unmount: 0, gc: 0, killed: 0, success: 0, failure: 0 };
  const faults: Record<string, number> = {};
  const scenarios: Record<string, number> = {};
  const outputs: string[] = [];
  const badOutputs: string[] = [];
  const slowCalls: string[] = [];
  /** Per pod: the windows in which one of its driver processes was killed, [spawn, kill] in epoch ms. */
  const killWindows = new Map<string, [number, number][]>();
  const downAt: number[] = [];
  const count = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);

  // SIGKILL at a random moment of a random share of the driver processes.
  let killShare = 0.2;
  /** Per pod: when each of its driver processes started, to tell a killed call's last bytes from the next call's. */
  const spawns = new Map<string, number[]>();
  kubelet.onSpawn = (child: Subprocess, argv) => {
    const spawnedAt = Date.now();
    const uid = /\/pods\/([^/]+)\//.exec(argv[1] ?? "")?.[1] ?? "";
    spawns.set(uid, [...(spawns.get(uid) ?? []), spawnedAt]);
    if (!chance(killShare)) return;
    setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      const w = killWindows.get(uid) ?? [];
      w.push([spawnedAt, Date.now()]);
      killWindows.set(uid, w);
    }, Math.floor(rand() * 250));
  };

  const limit = semaphore(opts.concurrency);
  async function call(kind: "mount" | "unmount", run: () => Promise<DriverCall | "skipped">): Promise<DriverCall | "skipped"> {
    return limit(async () => {
      let result: DriverCall | "skipped";
      try {
        result = await run();
      } catch (err) {
        badOutputs.push(`${kind}: ${(err as Error).message.slice(0, 300)}`);
        return "skipped";
      }
      if (result === "skipped" || (result as DriverCall & { skipped?: true }).skipped) return result;
      calls[kind]++;
      outputs.push(result.combined);
      if (result.json.status === KILLED) {
        calls.killed++;
        return result;
      }
      if (result.stderr !== "") badOutputs.push(`${kind}: stderr ${JSON.stringify(result.stderr.slice(0, 200))}`);
      if (result.ms > boundMs) slowCalls.push(`${kind} took ${Math.round(result.ms)} ms (bound ${boundMs} ms)`);
      if (result.json.status === "Success") calls.success++;
      else calls.failure++;
      return result;
    });
  }

  /** The kubelet's TearDown, retried until it succeeds (the kubelet retries forever; we give it up to 8 tries). */
  async function tearDown(dir: string): Promise<void> {
    for (let i = 0; i < 8 && existsSync(dir); i++) {
      const r = await call("unmount", () => kubelet.unmount(dir));
      if (r !== "skipped" && r.json.status === "Success") return;
      await Bun.sleep(100 + rand() * 400);
    }
  }

  async function podLife(): Promise<void> {
    const uid = uuid();
    const scenario = pick(["normal", "normal", "normal", "kubelet restart", "pod dir deleted", "unwrapped"] as const);
    count(scenarios, scenario);
    const pod = { uid, namespace: pick(["shop", "blog", "a", "b"]), name: `pod-${uid.slice(0, 5)}`, serviceAccount: "web" };
    const user = { "vault/policies": "app", ...(scenario === "unwrapped" ? { "vault/unwrap": "true" } : {}) };
    const dir = kubelet.volumeDir(uid);
    let mounted = false;
    // The kubelet retries a failed SetUp; after a restart it forgets the pod's SetUp entirely.
    const tries = scenario === "kubelet restart" ? 1 : 4;
    for (let i = 0; i < tries && !mounted; i++) {
      const r = await call("mount", () => kubelet.mount(pod, user));
      mounted = r !== "skipped" && r.json.status === "Success";
      if (!mounted) await Bun.sleep(100 + rand() * 400);
    }
    await Bun.sleep(rand() * 600); // the pod runs
    if (scenario === "pod dir deleted" && mounted) {
      // The volume goes away behind the driver's back (a node cleanup, a reboot): no unmount ever comes; gc must revoke.
      Bun.spawnSync(["umount", "-l", dir]);
      rmSync(join(kubelet.rootDir, "pods", uid), { recursive: true, force: true });
      return;
    }
    await tearDown(dir);
  }

  // Vault misbehaving, one rule at a time, until the pods are done.
  let chaosOn = true;
  const faultLoop = (async () => {
    while (chaosOn) {
      await Bun.sleep(60 + rand() * 140);
      if (!chaosOn) break;
      const target = pick([undefined, /^auth\/token\/create\//, "auth/token/revoke-accessor", "auth/token/renew-self"]);
      const path = target === undefined ? {} : { path: target };
      const kind = pick(["429", "500", "503", "reset", "held", "late create", "down", "none", "none"] as const);
      count(faults, kind);
      const times = 1 + Math.floor(rand() * 2);
      switch (kind) {
        case "429":
          world.vault.inject({ ...path, status: 429, errors: ["rate limit quota exceeded"], times });
          break;
        case "500":
        case "503":
          world.vault.inject({ ...path, status: Number(kind), errors: ["chaos"], times });
          break;
        case "reset":
          world.vault.inject({ ...path, drop: true, times });
          break;
        case "held": {
          // Held past the client's deadline; some are processed when let go although the client is gone.
          world.vault.inject({ ...path, hang: true, completeAfterDisconnect: chance(0.5), times: 1 });
          const release = setTimeout(() => world.vault.releaseHung(), timeoutMs + 300);
          release.unref?.();
          break;
        }
        case "late create":
          world.vault.inject({ path: /^auth\/token\/create\//, delayMs: timeoutMs + 200, times: 1 });
          break;
        case "down":
          if (proxy.up && chance(0.25)) {
            downAt.push(Date.now());
            await proxy.down();
            await Bun.sleep(1000 + rand() * 2000);
            await proxy.restore();
          }
          break;
        case "none":
          break;
      }
    }
  })();

  // gc in parallel, now and then two at once; some die by SIGKILL too.
  const gcLoop = (async () => {
    while (chaosOn) {
      await Bun.sleep(300 + rand() * 500);
      const runs = chance(0.3) ? 2 : 1;
      await Promise.all(
        Array.from({ length: runs }, async () => {
          calls.gc++;
          const child = Bun.spawn([kubelet.binary, "gc", "--json"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
          if (chance(0.1)) setTimeout(() => child.kill("SIGKILL"), rand() * 300);
          const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
          await child.exited;
          outputs.push(out, err);
        }),
      );
    }
  })();

  // The pods: a pool, so at most `concurrency` pods are alive at once.
  let next = 0;
  const workers = Array.from({ length: opts.concurrency }, async () => {
    while (next < opts.pods) {
      next++;
      await podLife();
    }
  });
  await Promise.all(workers);
  chaosOn = false;
  killShare = 0;
  await Promise.all([faultLoop, gcLoop]);

  // Vault healthy again; anything held is let go and given time to finish.
  world.vault.clearFaults();
  await proxy.restore();
  world.vault.releaseHung();
  await Bun.sleep(timeoutMs + 500);
  const finalGc = await runOperator(["gc", "--json"], env);
  outputs.push(finalGc.stdout, finalGc.stderr);
  say(`final gc: exit ${finalGc.exitCode} ${finalGc.stdout.trim().slice(0, 400)}`);

  // --- the counts ---
  const creates = world.vault.requests.filter((r) => r.path.startsWith("auth/token/create/"));
  const podOf = (r: (typeof creates)[number]) => ((r.body as { meta?: { poduid?: string } })?.meta?.poduid ?? "");
  const logLines = existsSync(world.logFile) ? readFileSync(world.logFile, "utf8").split("\n") : [];
  // Each create request justifies at most one token: the one it may have minted.
  const used = new Set<(typeof creates)[number]>();
  const leakedTokens = world.vault
    .liveTokens()
    .filter((t) => t.meta?.creator === TOKEN_CREATOR)
    .sort((a, b) => a.creationTime - b.creationTime)
    .map((t) => {
      const uid = t.meta?.poduid ?? "";
      const mine = creates.filter((r) => !used.has(r) && podOf(r) === uid && r.at <= t.creationTime + 5);
      const late = mine.find((r) => r.fault === "delay" || r.fault === "hang");
      // A request written just before the SIGKILL reaches Vault just after it: allow 100 ms, but never past the pod's next call.
      const nextSpawn = (from: number) => (spawns.get(uid) ?? []).find((t) => t > from) ?? Number.POSITIVE_INFINITY;
      const killWindow = (r: (typeof creates)[number]) => (killWindows.get(uid) ?? []).find(([from, to]) => r.at >= from - 5 && r.at <= Math.min(to + 100, nextSpawn(from)));
      const killed = mine.find((r) => killWindow(r) !== undefined);
      // Bytes the proxy had already passed on reach Vault just after it went down.
      const reset = mine.find((r) => downAt.some((d) => r.at <= d + 200 && r.at >= d - timeoutMs));
      // A create that Vault answered after the driver's deadline had passed (a loaded node, no fault needed):
      // the driver's own log says it gave up on that create.
      const gaveUp = logLines.find((l) => l.includes(uid) && /"op":"mount".*auth\/token\/create\/[^"]*: (no answer within|cannot reach Vault|interrupted)/.test(l));
      const by = late ?? killed ?? reset ?? (gaveUp ? mine.find((r) => r.status === 200) : undefined);
      if (by) used.add(by);
      let why = "UNJUSTIFIED";
      if (by && by === late) why = `create processed after the client's deadline (emulator fault "${late.fault}" at ${new Date(late.at).toISOString()})`;
      else if (by && by === killed) {
        const kill = killWindow(killed)?.[1] ?? 0;
        const answered = killed.answeredAt === undefined || kill < killed.answeredAt ? "before Vault's answer was written" : `${kill - killed.answeredAt} ms after Vault answered, before its journal write`;
        why = `create sent by a driver killed with SIGKILL ${answered} (at ${new Date(killed.at).toISOString()})`;
      }
      else if (by && by === reset) why = `create in flight when Vault went down; its answer was reset (at ${new Date(reset.at).toISOString()})`;
      else if (by) why = `create answered after the driver gave up on it (its log: ${/"error":"([^"]*)"/.exec(gaveUp ?? "")?.[1] ?? "?"})`;
      return { accessor: t.accessor, podUid: uid, why };
    });
  for (const t of leakedTokens.filter((x) => x.why === "UNJUSTIFIED")) {
    // What a person needs to find the bug: the pod's create requests, kills, and driver log lines.
    const token = world.vault.lookup(t.accessor);
    say(`UNJUSTIFIED ${t.accessor} created ${new Date(token?.creationTime ?? 0).toISOString()} pod ${t.podUid}`);
    for (const r of creates.filter((c) => podOf(c) === t.podUid)) say(`  create at ${new Date(r.at).toISOString()} status ${r.status} fault ${r.fault}`);
    for (const [from, to] of killWindows.get(t.podUid) ?? []) say(`  killed: spawned ${new Date(from).toISOString()} killed ${new Date(to).toISOString()}`);
    for (const d of downAt) say(`  vault down at ${new Date(d).toISOString()}`);
    const lines = existsSync(world.logFile) ? readFileSync(world.logFile, "utf8").split("\n").filter((l) => l.includes(t.podUid)) : [];
    for (const l of lines) say(`  log ${l.slice(0, 400)}`);
  }
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" "));
  const stagingRoot = join(world.stateDir, "staging");
  const leakedMounts = mountinfo.map((f) => f[4] ?? "").filter((p) => p.startsWith(`${world.root}/`) && p !== stagingRoot);
  const podsDir = join(kubelet.rootDir, "pods");
  const volumeDirs = existsSync(podsDir)
    ? readdirSync(podsDir).flatMap((uid) => {
        const d = join(podsDir, uid, "volumes", DRIVER_DIR);
        return existsSync(d) ? readdirSync(d).map((v) => join(d, v)) : [];
      })
    : [];
  const journalFiles = existsSync(join(world.stateDir, "volumes")) ? readdirSync(join(world.stateDir, "volumes")) : [];
  const tempFiles = filesBelow(world.stateDir).filter((f) => f.split("/").at(-1)!.startsWith(".tmp-"));
  const stagingLeft = existsSync(stagingRoot) ? readdirSync(stagingRoot).map((n) => join(stagingRoot, n)) : [];
  const texts = [...outputs, ...filesBelow(world.stateDir).map((f) => readFileSync(f, "utf8")), existsSync(world.logFile) ? readFileSync(world.logFile, "utf8") : ""];
  const tokensInOutput = [...new Set(texts.flatMap((t) => [...t.matchAll(TOKEN_SHAPE)].map((m) => m[0]).concat(t.includes(world.generatorToken) ? ["<generator token>"] : [])))];

  const report: ChaosReport = {
    seed: opts.seed,
    pods: opts.pods,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    calls,
    faults,
    scenarios,
    leakedTokens,
    leakedMounts,
    volumeDirs: [...volumeDirs, ...stagingLeft],
    journalFiles,
    tempFiles,
    tokensInOutput,
    badOutputs,
    slowCalls,
    finalGcExit: finalGc.exitCode,
    gcRecovered: gcTally(outputs),
    boundMs,
    ok:
      leakedTokens.every((t) => t.why !== "UNJUSTIFIED") &&
      leakedMounts.length + volumeDirs.length + stagingLeft.length + journalFiles.length + tempFiles.length + tokensInOutput.length + badOutputs.length + slowCalls.length === 0 &&
      finalGc.exitCode === 0,
  };
  kubelet.onSpawn = undefined;
  await proxy.close();
  await world.stop();
  return report;
}

/** Sums what the `gc --json` outputs of the run say they did. */
function gcTally(outputs: readonly string[]): ChaosReport["gcRecovered"] {
  const tally = { crashedWrites: 0, staging: 0, revoked: 0 };
  for (const out of outputs) {
    if (!out.startsWith('{"dryRun"')) continue;
    try {
      const r = JSON.parse(out) as { items: { action: string }[]; leftovers: { kind: string; action: string }[]; cleanedStaging: number };
      tally.crashedWrites += r.leftovers.filter((l) => l.kind === "crashed write" && (l.action === "revoked" || l.action === "removed")).length;
      tally.staging += r.cleanedStaging;
      tally.revoked += r.items.filter((i) => i.action === "revoked").length;
    } catch {
      // a gc killed mid-output
    }
  }
  return tally;
}

/** The report as the lines `npm run chaos` prints. */
export function describeReport(r: ChaosReport): string[] {
  const n = (xs: readonly unknown[]) => xs.length;
  return [
    `chaos: CHAOS_SEED=${r.seed} CHAOS_PODS=${r.pods}: ${r.ok ? "PASS" : "FAIL"} in ${r.seconds}s`,
    `  calls: ${r.calls.mount} mount, ${r.calls.unmount} unmount (${r.calls.success} Success, ${r.calls.failure} Failure, ${r.calls.killed} killed by SIGKILL), ${r.calls.gc} gc`,
    `  scenarios: ${Object.entries(r.scenarios).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `  faults: ${Object.entries(r.faults).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `  gc during the run: ${r.gcRecovered.revoked} entries revoked, ${r.gcRecovered.crashedWrites} journal temp files of killed writes recovered, ${r.gcRecovered.staging} staging dirs cleaned`,
    `  live pod tokens without a volume: ${n(r.leakedTokens)} (unjustified: ${r.leakedTokens.filter((t) => t.why === "UNJUSTIFIED").length})`,
    ...r.leakedTokens.map((t) => `    ${t.accessor} pod ${t.podUid}: ${t.why}`),
    `  leaked mounts: ${n(r.leakedMounts)}; volume/staging dirs left: ${n(r.volumeDirs)}; journal files: ${n(r.journalFiles)}; temp files: ${n(r.tempFiles)}`,
    `  tokens in outputs, log or state files: ${n(r.tokensInOutput)}`,
    `  calls not answered with exactly one JSON object and an empty stderr: ${n(r.badOutputs)}; calls over their ${r.boundMs / 1000}s bound: ${n(r.slowCalls)}; final gc exit ${r.finalGcExit}`,
    ...[...r.leakedMounts, ...r.volumeDirs, ...r.journalFiles, ...r.tempFiles, ...r.badOutputs, ...r.slowCalls].slice(0, 20).map((x) => `    ${x}`),
  ];
}
