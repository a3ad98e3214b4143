/**
 * The driver's real process wiring (src/run.ts), compiled like the driver, with
 * misbehaviour injected while a kubelet call is in flight: stray writes to
 * stdout and stderr by every route a library could take, then, per
 * VAULTTMPFS_TEST_CRASH, an uncaught exception ("throw"), an unhandled
 * rejection ("reject") or nothing ("none"). Used by tests/crash.e2e.test.ts only.
 */
import { runProcess } from "../../src/run.ts";

const mode = process.env.VAULTTMPFS_TEST_CRASH ?? "none";
setTimeout(() => {
  console.log("stray console.log");
  console.error("stray console.error");
  process.stdout.write("stray process.stdout.write\n");
  process.stderr.write("stray process.stderr.write\n");
  process.emitWarning("stray warning");
  Bun.spawnSync(["sh", "-c", "echo stray child stdout; echo stray child stderr >&2"], { stdout: "inherit", stderr: "inherit" });
  if (mode === "throw") throw new Error("injected crash");
  if (mode === "reject") void Promise.reject(new Error("injected rejection"));
}, Number(process.env.VAULTTMPFS_TEST_CRASH_AFTER_MS ?? 0));

await runProcess(process.argv.slice(2));
