/**
 * Entry point. `init` is answered from a tiny module graph: the kubelet runs
 * it on every probe of the plugin dir and it needs no config, Vault or disk.
 * console.log is the cheapest way out of a Bun binary (importing node:fs or
 * touching process.stdout costs 6–9 MiB of RSS at start), so init uses it.
 */
import { initCommand } from "./commands/init.ts";
import { renderResult } from "./flex/protocol.ts";

const argv = process.argv.slice(2);
if (argv[0] === "init") {
  console.log(renderResult(initCommand()).trimEnd());
} else {
  const { runProcess } = await import("./run.ts");
  await runProcess(argv);
}
