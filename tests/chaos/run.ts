/**
 * `npm run chaos`: CHAOS_SEED (default: random, printed), CHAOS_PODS (200),
 * CHAOS_CONCURRENCY (20), CHAOS_TIMEOUT (VAULT_CLIENT_TIMEOUT seconds, 2).
 * CHAOS_SEEDS=1,2,3 runs several seeds one after another. Exits 1 on any
 * count that must be zero. Needs root in a private mount namespace (the npm
 * script provides it).
 */
import { requirePrivateMountNamespace } from "../support/kubelet.ts";
import { describeReport, runChaos } from "./chaos.ts";

requirePrivateMountNamespace();
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const seeds = process.env.CHAOS_SEEDS
  ? process.env.CHAOS_SEEDS.split(",").map(Number)
  : [num("CHAOS_SEED", Math.floor(Math.random() * 2 ** 31))];
let failed = false;
for (const seed of seeds) {
  console.log(`chaos: starting CHAOS_SEED=${seed}`);
  const report = await runChaos({ seed, pods: num("CHAOS_PODS", 200), concurrency: num("CHAOS_CONCURRENCY", 20), timeoutSeconds: num("CHAOS_TIMEOUT", 2), log: (l) => console.log(`  ${l}`) });
  for (const line of describeReport(report)) console.log(line);
  failed ||= !report.ok;
}
process.exit(failed ? 1 : 0);
