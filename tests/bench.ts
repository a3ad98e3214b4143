/**
 * `npm run bench`: how fast and how big the compiled driver is, per kubelet
 * call, against the bundled Vault emulator over TLS on loopback, on real
 * tmpfs mounts. Prints numbers; asserts nothing (targets live in the README).
 *
 *   init            N sequential runs
 *   mount/unmount   N pods, one after another
 *   burst           M concurrent mounts (pod start storm), then M unmounts
 *
 * Peak RSS includes the file-backed pages of the 105 MB binary, which every
 * concurrent call shares; wall times include GNU time's own exec (~1 ms).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VaultEmulator } from "./emulator/index.ts";
import { makeTestPki } from "./support/certs.ts";
import { BINARY, goJson, Kubelet } from "./support/kubelet.ts";

const N = Number(process.env.BENCH_N ?? 100);
const M = Number(process.env.BENCH_BURST ?? 50);
/** Extra tmpfs mounts to make first, to measure a busy node's mount table (thousands of pod volumes). */
const EXTRA_MOUNTS = Number(process.env.BENCH_EXTRA_MOUNTS ?? 0);

interface Sample { ms: number; rssKiB: number }

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/**
 * Peak RSS comes from GNU time's %M (the driver's own ru_maxrss, in KiB).
 * Bun's resourceUsage() is not used: a posix_spawn'd child inherits the
 * parent's RSS until exec, which inflates it.
 */
async function run(argv: string[], env: Record<string, string>): Promise<Sample & { out: string }> {
  const rssFile = join(root, `rss-${crypto.randomUUID()}`);
  const cmd = TIME ? [TIME, "-f", "%M", "-o", rssFile, BINARY, ...argv] : [BINARY, ...argv];
  const t0 = performance.now();
  const child = Bun.spawn(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const out = await new Response(child.stdout).text();
  await child.exited;
  const ms = performance.now() - t0;
  if (!out.includes('"Success"')) throw new Error(`${argv[0]} failed: ${out}`);
  const rssKiB = TIME ? Number(readFileSync(rssFile, "utf8").trim().split("\n").at(-1)) : 0;
  return { ms, rssKiB, out };
}

function stats(samples: Sample[]) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const rss = samples.map((s) => s.rssKiB).sort((a, b) => a - b);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
  return { n: ms.length, median: q(ms, 0.5), p95: q(ms, 0.95), max: ms.at(-1) ?? 0, rssMedianMiB: q(rss, 0.5) / 1024, rssMaxMiB: (rss.at(-1) ?? 0) / 1024 };
}

function row(name: string, s: ReturnType<typeof stats>) {
  console.log(`${name.padEnd(22)} ${String(s.n).padStart(5)} ${s.median.toFixed(1).padStart(9)} ${s.p95.toFixed(1).padStart(9)} ${s.max.toFixed(1).padStart(9)} ${s.rssMedianMiB.toFixed(1).padStart(10)} ${s.rssMaxMiB.toFixed(1).padStart(9)}`);
}

const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-bench-"));
const pki = await makeTestPki(join(root, "pki"));
const vault = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
try {
  vault.writeRole("applications", { allowed_policies: ["app"], orphan: true, token_period: 3600 } as never);
  const gen = vault.createToken({ policies: ["applications_token_creator"], period: 86400, orphan: true });
  writeFileSync(join(root, "token"), gen.token, { mode: 0o600 });
  const env = { PATH: "/usr/bin:/bin", VAULT_ADDR: vault.url, VAULT_CACERT: pki.caFile, VAULTTMPFS_GENERATOR_TOKEN_PATH: join(root, "token"), VAULTTMPFS_STATE_DIR: join(root, "state"), VAULTTMPFS_LOG_FILE: join(root, "log") };
  const kubelet = new Kubelet(join(root, "kubelet"), env);
  const options = (uid: string) => goJson(kubelet.mountOptions({ uid }, { "vault/policies": "app" }));

  for (let i = 0; i < EXTRA_MOUNTS; i++) {
    const d = join(root, "busy", String(i));
    Bun.spawnSync(["mkdir", "-p", d]);
    Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4k", "busy", d]);
  }
  for (let i = 0; i < 5; i++) await run(["init"], env); // warm the page cache
  const init: Sample[] = [];
  for (let i = 0; i < N * 2; i++) init.push(await run(["init"], env));

  const mounts: Sample[] = [];
  const unmounts: Sample[] = [];
  for (let i = 0; i < N; i++) {
    const uid = crypto.randomUUID();
    const dir = kubelet.volumeDir(uid);
    Bun.spawnSync(["mkdir", "-p", "-m", "0750", dir]);
    mounts.push(await run(["mount", dir, options(uid)], env));
    unmounts.push(await run(["unmount", dir], env));
  }

  vault.clearRequests();
  const uids = Array.from({ length: M }, () => crypto.randomUUID());
  for (const uid of uids) Bun.spawnSync(["mkdir", "-p", "-m", "0750", kubelet.volumeDir(uid)]);
  const t0 = performance.now();
  const burst = await Promise.all(uids.map((uid) => run(["mount", kubelet.volumeDir(uid), options(uid)], env)));
  const burstWall = performance.now() - t0;
  const renews = vault.requests.filter((r) => r.path === "auth/token/renew-self").length;
  const creates = vault.requests.filter((r) => r.path.startsWith("auth/token/create/")).length;
  const t1 = performance.now();
  const burstUn = await Promise.all(uids.map((uid) => run(["unmount", kubelet.volumeDir(uid)], env)));
  const burstUnWall = performance.now() - t1;

  console.log(`vaulttmpfs benchmark: ${BINARY}, Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores${EXTRA_MOUNTS ? `, ${EXTRA_MOUNTS} extra mounts` : ""}`);
  console.log(`${"call".padEnd(22)} ${"n".padStart(5)} ${"median ms".padStart(9)} ${"p95 ms".padStart(9)} ${"max ms".padStart(9)} ${"RSS MiB".padStart(10)} ${"max MiB".padStart(9)}`);
  row("init", stats(init));
  row("mount (sequential)", stats(mounts));
  row("unmount (sequential)", stats(unmounts));
  row(`mount (${M} at once)`, stats(burst));
  row(`unmount (${M} at once)`, stats(burstUn));
  console.log(`burst of ${M}: mounts done in ${burstWall.toFixed(0)} ms, unmounts in ${burstUnWall.toFixed(0)} ms; Vault saw ${creates} creates and ${renews} renew-self for ${M} mounts`);
  console.log(`live pod tokens left in Vault: ${vault.liveTokens().filter((t) => t.meta?.creator === "kubernetes-flexvolume-vault-plugin" && !t.isWrapping).length}`);
} finally {
  await vault.stop();
  Bun.spawnSync(["sh", "-c", `grep -o '${root}[^ ]*' /proc/self/mountinfo | xargs -r -n1 umount -l`]);
  rmSync(root, { recursive: true, force: true });
}
