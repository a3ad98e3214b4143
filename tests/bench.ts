/**
 * `npm run bench`: the compiled driver against its floors, measured in the
 * same run on the same machine, against the bundled Vault emulator over TLS
 * on loopback and real tmpfs mounts (inside tests/in-namespace.sh).
 *
 *   floor (a)  a bare compiled Bun program printing one JSON line: what `init` cannot beat
 *   floor (b)  tests/bench/floor-pod.ts: a pod's mandatory work (same lock, journal
 *              writes and fsyncs, spawns, Vault requests) in one process, no structure
 *
 * Cycles interleave driver and floor calls (init, mount, unmount of one pod
 * each), so machine noise hits both alike; ratios are of medians. Peak RSS is
 * GNU time's (exact, includes the binary's file pages, which every call shares);
 * the split into private (anon + shmem) and file pages is sampled from
 * /proc/<pid>/status while the call runs. Bursts mount N pods at once, then
 * unmount them at once. Prints a table and writes the raw figures to
 * dist/bench.json.
 *
 *   BENCH_CYCLES=100  BENCH_BURSTS=10,50,100,200  BENCH_RSS_RUNS=30
 *   BENCH_EXTRA_MOUNTS=2000   other mounts in the table first (a busy node)
 *   BENCH_BAO=1               also mount/unmount against a real OpenBao (tests/bench/bao.ts)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../build.ts";
import { VaultEmulator } from "./emulator/index.ts";
import { makeTestPki } from "./support/certs.ts";
import { BINARY, goJson, Kubelet } from "./support/kubelet.ts";
import { unmountAllBelow } from "./support/world.ts";

const CYCLES = Number(process.env.BENCH_CYCLES ?? 100);
const BURSTS = (process.env.BENCH_BURSTS ?? "10,50,100,200").split(",").map(Number);
const RSS_RUNS = Number(process.env.BENCH_RSS_RUNS ?? 30);
const EXTRA_MOUNTS = Number(process.env.BENCH_EXTRA_MOUNTS ?? 0);
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const DIST = join(import.meta.dir, "..", "dist");
const FLOOR_INIT = join(DIST, "bench-floor-init");
const FLOOR_POD = join(DIST, "bench-floor-pod");
const TARGET = { init: 1.2, mount: 1.35, unmount: 1.35, rssMiB: 4 };

interface Call { ms: number; ok: boolean; out: string }
interface RssSample { peakKiB: number; privateKiB: number; fileKiB: number }
type Env = Record<string, string>;

/** One exec, timed from spawn to exit, as the kubelet's exec sees it. */
async function exec(argv: string[], env: Env): Promise<Call> {
  const started = performance.now();
  const child = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const ms = performance.now() - started;
  return { ms, ok: child.exitCode === 0 && out.includes('"Success"') && err === "", out: out + err };
}

/**
 * Peak RSS from GNU time (the call's own ru_maxrss: Bun's resourceUsage() of a
 * posix_spawn'd child counts the parent's pages until exec), and the private/file
 * split from /proc/<pid>/status, polled until the call exits.
 */
async function execRss(argv: string[], env: Env): Promise<RssSample> {
  if (!TIME) return { peakKiB: 0, privateKiB: 0, fileKiB: 0 };
  const rssFile = join(root, `rss-${crypto.randomUUID()}`);
  const child = Bun.spawn([TIME, "-f", "%M", "-o", rssFile, ...argv], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let pid: number | undefined;
  let privateKiB = 0;
  let fileKiB = 0;
  // Each sample yields to the event loop: the emulator answering the call lives in this process.
  for (const deadline = performance.now() + 10_000; performance.now() < deadline; await new Promise((r) => setImmediate(r))) {
    if (pid === undefined) {
      const time = readOrUndefined(`/proc/${child.pid}/stat`);
      if (time === undefined || / Z /.test(time)) break; // time is done: the call ended before we saw it
      pid = Number(readOrUndefined(`/proc/${child.pid}/task/${child.pid}/children`)?.trim().split(" ")[0]) || undefined;
      continue;
    }
    const status = readOrUndefined(`/proc/${pid}/status`);
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status ?? "")?.[1] ?? Number.NaN);
    if (Number.isNaN(kib("VmRSS"))) break; // gone, or a zombie: the call is over
    privateKiB = Math.max(privateKiB, kib("RssAnon") + kib("RssShmem"));
    fileKiB = Math.max(fileKiB, kib("RssFile"));
  }
  await new Response(child.stdout).text();
  await child.exited;
  const peakKiB = Number(readFileSync(rssFile, "utf8").trim().split("\n").at(-1));
  return { peakKiB, privateKiB, fileKiB };
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

const quantile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
};
const p50 = (xs: number[]) => quantile(xs, 0.5);
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const mib = (kib: number) => kib / 1024;

function machine() {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu.replace(/\s+/g, " ").trim()}, ${navigator.hardwareConcurrency} cores, Linux ${release()}, Bun ${Bun.version}`;
}

const benchStart = performance.now();
/** Progress on stderr, so the table on stdout stays clean. */
const progress = (what: string) => process.stderr.write(`[bench ${((performance.now() - benchStart) / 1000).toFixed(1)}s] ${what}\n`);
const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-bench-"));
const pki = await makeTestPki(join(root, "pki"));
const vault = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
const report: Record<string, unknown> = { machine: machine(), date: new Date().toISOString(), cycles: CYCLES, command: "npm run bench" };
let failed = false;
try {
  await Promise.all([
    buildBinary({ target: undefined, outfile: FLOOR_INIT, entrypoint: join(import.meta.dir, "bench", "floor-init.ts") }, "bench", "bench"),
    buildBinary({ target: undefined, outfile: FLOOR_POD, entrypoint: join(import.meta.dir, "bench", "floor-pod.ts") }, "bench", "bench"),
  ]);
  vault.writeRole("applications", { allowed_policies: ["app"], orphan: true, token_period: 3600 } as never);
  const gen = vault.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true });
  writeFileSync(join(root, "token"), gen.token, { mode: 0o600 });
  const env: Env = {
    PATH: "/usr/bin:/bin", VAULT_ADDR: vault.url, VAULT_CACERT: pki.caFile, VAULTTMPFS_GENERATOR_TOKEN_PATH: join(root, "token"),
    VAULTTMPFS_STATE_DIR: join(root, "state"), VAULTTMPFS_LOG_FILE: join(root, "log"), VAULTTMPFS_NODE_NAME: "bench",
  };
  const kubelet = new Kubelet(join(root, "kubelet"), env);
  const options = (uid: string) => goJson(kubelet.mountOptions({ uid }, { "vault/policies": "app" }));
  const newPod = () => {
    const uid = crypto.randomUUID();
    const dir = kubelet.volumeDir(uid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    return { uid, dir };
  };
  const must = (what: string, c: Call) => {
    if (!c.ok) throw new Error(`${what} failed: ${c.out}`);
    return c;
  };

  progress("binaries built");
  for (let i = 0; i < EXTRA_MOUNTS; i++) {
    const d = join(root, "busy", String(i));
    mkdirSync(d, { recursive: true });
    Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4k", "busy", d]);
  }
  // Warm-up: page cache of all three binaries; the first mount makes the state dir, its
  // private staging root and the renewal state, which floor (b) then uses as they are.
  for (let i = 0; i < 5; i++) {
    must("init", await exec([BINARY, "init"], env));
    must("floor init", await exec([FLOOR_INIT], env));
    const a = newPod();
    must("mount", await exec([BINARY, "mount", a.dir, options(a.uid)], env));
    must("unmount", await exec([BINARY, "unmount", a.dir], env));
    const b = newPod();
    must("floor mount", await exec([FLOOR_POD, "mount", b.dir, options(b.uid)], env));
    must("floor unmount", await exec([FLOOR_POD, "unmount", b.dir], env));
  }

  progress("warm-up done");
  // Cycles: one pod's life through the driver and one through floor (b), alternating which goes first.
  const t = { init: [] as number[], floorInit: [] as number[], mount: [] as number[], unmount: [] as number[], floorMount: [] as number[], floorUnmount: [] as number[] };
  const perPod: { create: number; revoke: number; renew: number; other: number }[] = [];
  for (let i = 0; i < CYCLES; i++) {
    const driverFirst = i % 2 === 0;
    const driver = async () => {
      t.init.push(must("init", await exec([BINARY, "init"], env)).ms);
      const p = newPod();
      vault.clearRequests();
      t.mount.push(must("mount", await exec([BINARY, "mount", p.dir, options(p.uid)], env)).ms);
      t.unmount.push(must("unmount", await exec([BINARY, "unmount", p.dir], env)).ms);
      const paths = vault.requests.map((r) => r.path);
      const create = paths.filter((x) => x.startsWith("auth/token/create/")).length;
      const revoke = paths.filter((x) => x === "auth/token/revoke-accessor").length;
      const renew = paths.filter((x) => x === "auth/token/renew-self").length;
      perPod.push({ create, revoke, renew, other: paths.length - create - revoke - renew });
    };
    const floor = async () => {
      t.floorInit.push(must("floor init", await exec([FLOOR_INIT], env)).ms);
      const p = newPod();
      t.floorMount.push(must("floor mount", await exec([FLOOR_POD, "mount", p.dir, options(p.uid)], env)).ms);
      t.floorUnmount.push(must("floor unmount", await exec([FLOOR_POD, "unmount", p.dir], env)).ms);
    };
    if (driverFirst) await driver().then(floor);
    else await floor().then(driver);
  }

  progress("cycles done");
  // Peak RSS of a mount, driver and floor (b) alternating.
  const rss = { driver: [] as RssSample[], floor: [] as RssSample[] };
  for (let i = 0; i < RSS_RUNS; i++) {
    const a = newPod();
    rss.driver.push(await execRss([BINARY, "mount", a.dir, options(a.uid)], env));
    must("unmount", await exec([BINARY, "unmount", a.dir], env));
    const b = newPod();
    rss.floor.push(await execRss([FLOOR_POD, "mount", b.dir, options(b.uid)], env));
    must("floor unmount", await exec([FLOOR_POD, "unmount", b.dir], env));
  }

  progress("RSS done");
  // Bursts: N pods mounted at once, then unmounted at once; the driver's, then floor (b)'s, at each size.
  const burst = async (binary: string, n: number) => {
    const pods = Array.from({ length: n }, newPod);
    vault.clearRequests();
    const m0 = performance.now();
    const mounts = await Promise.all(pods.map((p) => exec([binary, "mount", p.dir, options(p.uid)], env)));
    const mountWall = performance.now() - m0;
    const u0 = performance.now();
    const unmounts = await Promise.all(pods.map((p) => exec([binary, "unmount", p.dir], env)));
    const unmountWall = performance.now() - u0;
    const uids = new Set<string>(pods.map((p) => p.uid));
    const paths = vault.requests.map((r) => r.path);
    return {
      n,
      failures: [...mounts, ...unmounts].filter((c) => !c.ok).length,
      mountWallMs: mountWall, unmountWallMs: unmountWall,
      mountPerPodMs: mountWall / n, unmountPerPodMs: unmountWall / n,
      mountP50Ms: p50(mounts.map((c) => c.ms)), unmountP50Ms: p50(unmounts.map((c) => c.ms)),
      vaultRequests: paths.filter((x) => x !== "auth/token/renew-self").length, renewals: paths.filter((x) => x === "auth/token/renew-self").length,
      liveTokensLeft: vault.liveTokens().filter((tok) => uids.has(tok.meta?.poduid ?? "") && !tok.isWrapping).length,
      mountsLeft: readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(kubelet.rootDir)).length,
      journalLeft: readdirSync(join(env.VAULTTMPFS_STATE_DIR!, "volumes")).filter((f) => uids.has(f.split("_")[0] ?? "")).length,
    };
  };
  const bursts: Awaited<ReturnType<typeof burst>>[] = [];
  const floorBursts: Awaited<ReturnType<typeof burst>>[] = [];
  for (const n of BURSTS) {
    bursts.push(await burst(BINARY, n));
    floorBursts.push(await burst(FLOOR_POD, n));
  }

  progress("bursts done");
  const ratio = (a: number[], b: number[]) => p50(a) / p50(b);
  const rows = [
    { call: "init", driver: t.init, floor: t.floorInit, floorName: "(a)", target: TARGET.init },
    { call: "mount", driver: t.mount, floor: t.floorMount, floorName: "(b)", target: TARGET.mount },
    { call: "unmount", driver: t.unmount, floor: t.floorUnmount, floorName: "(b)", target: TARGET.unmount },
  ];
  const lines: string[] = [];
  const say = (s = "") => lines.push(s);
  say(`vaulttmpfs bench, ${report.date}: ${report.machine}`);
  say(`emulator over TLS on loopback, real tmpfs; ${CYCLES} cycles (medians), driver and floor interleaved${EXTRA_MOUNTS ? `; ${EXTRA_MOUNTS} other mounts` : ""}`);
  say();
  say(`${"call".padEnd(8)} ${"p50 ms".padStart(7)} ${"p95 ms".padStart(7)}   ${"floor".padEnd(5)} ${"p50 ms".padStart(7)} ${"p95 ms".padStart(7)}   ${"ratio".padStart(5)}  target  met`);
  for (const r of rows) {
    const x = ratio(r.driver, r.floor);
    say(`${r.call.padEnd(8)} ${fmt(p50(r.driver)).padStart(7)} ${fmt(quantile(r.driver, 0.95)).padStart(7)}   ${r.floorName.padEnd(5)} ${fmt(p50(r.floor)).padStart(7)} ${fmt(quantile(r.floor, 0.95)).padStart(7)}   ${fmt(x, 2).padStart(5)}  ≤${r.target.toFixed(2)}   ${x <= r.target ? "yes" : "NO"}`);
  }
  const rssOf = (xs: RssSample[], k: keyof RssSample) => mib(p50(xs.map((s) => s[k])));
  const dPeak = rssOf(rss.driver, "peakKiB") - rssOf(rss.floor, "peakKiB");
  say();
  say(`peak RSS of a mount (MiB, median of ${RSS_RUNS}): total = private (anon+shmem) + file pages (the binary's, shared by every call)`);
  say(`  driver    ${fmt(rssOf(rss.driver, "peakKiB")).padStart(5)} = ${fmt(rssOf(rss.driver, "privateKiB"))} + ${fmt(rssOf(rss.driver, "fileKiB"))}`);
  say(`  floor (b) ${fmt(rssOf(rss.floor, "peakKiB")).padStart(5)} = ${fmt(rssOf(rss.floor, "privateKiB"))} + ${fmt(rssOf(rss.floor, "fileKiB"))}`);
  say(`  driver - floor: ${fmt(dPeak)} MiB total, ${fmt(rssOf(rss.driver, "privateKiB") - rssOf(rss.floor, "privateKiB"))} MiB private (target total ≤ +${TARGET.rssMiB}: ${dPeak <= TARGET.rssMiB ? "yes" : "NO"})`);
  const sum = (k: keyof (typeof perPod)[number]) => perPod.reduce((s, x) => s + x[k], 0);
  const perLife = (sum("create") + sum("revoke") + sum("other")) / perPod.length;
  say();
  say(`Vault requests per pod lifecycle: ${fmt(perLife, 2)} (create ${fmt(sum("create") / perPod.length, 2)}, revoke-accessor ${fmt(sum("revoke") / perPod.length, 2)}, other ${sum("other")}); renew-self ${sum("renew")} in ${perPod.length} lifecycles (target exactly 2: ${perPod.every((x) => x.create === 1 && x.revoke === 1 && x.other === 0) ? "yes" : "NO"})`);
  say();
  say(`burst     n  failures  mount wall  per pod (floor)  p50 call   unmount wall  per pod (floor)  p50 call   Vault req  renew  tokens/mounts/journal left`);
  bursts.forEach((b, i) => {
    const f = floorBursts[i]!;
    say(`burst ${String(b.n).padStart(5)}  ${String(b.failures).padStart(8)}  ${fmt(b.mountWallMs, 0).padStart(7)} ms  ${fmt(b.mountPerPodMs).padStart(7)} (${fmt(f.mountPerPodMs)})  ${fmt(b.mountP50Ms, 0).padStart(8)}   ${fmt(b.unmountWallMs, 0).padStart(9)} ms  ${fmt(b.unmountPerPodMs).padStart(7)} (${fmt(f.unmountPerPodMs)})  ${fmt(b.unmountP50Ms, 0).padStart(8)}   ${String(b.vaultRequests).padStart(9)}  ${String(b.renewals).padStart(5)}  ${b.liveTokensLeft}/${b.mountsLeft}/${b.journalLeft}`);
  });
  failed = bursts.some((b) => b.failures > 0 || b.liveTokensLeft > 0 || b.mountsLeft > 0);

  Object.assign(report, {
    targets: TARGET,
    timingsMs: t,
    ratios: Object.fromEntries(rows.map((r) => [r.call, ratio(r.driver, r.floor)])),
    rss,
    vaultRequestsPerLifecycle: perPod,
    bursts,
    floorBursts,
  });
  if (process.env.BENCH_BAO === "1") {
    progress("OpenBao");
    const { benchBao } = await import("./bench/bao.ts");
    const bao = await benchBao({ binary: BINARY, floor: FLOOR_POD, root, cycles: CYCLES, exec, must, p50 });
    report.bao = bao.raw;
    say();
    for (const line of bao.lines) say(line);
  }
  console.log(lines.join("\n"));
  report.table = lines.join("\n");
  writeFileSync(join(DIST, "bench.json"), `${JSON.stringify(report, null, 1)}\n`);
  console.log(`\nraw figures: ${join(DIST, "bench.json")}`);
} finally {
  await vault.stop();
  unmountAllBelow(root);
  rmSync(root, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
