/**
 * A reduced run of the chaos suite (tests/chaos/chaos.ts) inside `npm test`:
 * 30 pods, 10 calls at once. `npm run chaos` runs the full one (200 pods, 20
 * at once). CHAOS_SEED replays a seed; the seed is printed either way.
 */
import { expect, test } from "bun:test";
import { requirePrivateMountNamespace } from "./support/kubelet.ts";
import { describeReport, runChaos } from "./chaos/chaos.ts";

test("chaos (reduced): nothing leaks, every call answers in time with one JSON object", async () => {
  requirePrivateMountNamespace();
  const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const report = await runChaos({ seed, pods: Number(process.env.CHAOS_PODS ?? 30), concurrency: 10, timeoutSeconds: 2, log: (l) => console.log(`  ${l}`) });
  const lines = describeReport(report);
  console.log(lines.join("\n"));
  expect({ ok: report.ok, lines }).toMatchObject({ ok: true });
}, 90_000);
