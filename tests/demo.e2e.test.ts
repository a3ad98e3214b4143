/**
 * `npm run demo` is the README's first command: it must exit 0 and leave no
 * mount, file or process behind. Run here with its own TMPDIR, so "behind"
 * is exactly what is left under that dir.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requirePrivateMountNamespace } from "./support/kubelet.ts";
import { unmountAllBelow } from "./support/world.ts";

const scratch = mkdtempSync(join(tmpdir(), "vaulttmpfs-demo-test-"));
afterAll(() => {
  unmountAllBelow(scratch); // only when the demo failed to clean up: the test has already failed then
  rmSync(scratch, { recursive: true, force: true });
});

const mountsUnder = (dir: string) => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => (l.split(" ")[4] ?? "").startsWith(dir));
/** Processes whose command line or cwd mention `dir` (a leftover emulator or driver). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

test("npm run demo exits 0 and leaves no mount, file or process behind", async () => {
  requirePrivateMountNamespace();
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "demo.ts")], {
    env: { ...process.env, TMPDIR: scratch, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ code, err }).toEqual({ code: 0, err: "" });
  expect(out).toContain("no: revoked with its pod");
  expect(readdirSync(scratch)).toEqual([]);
  expect(mountsUnder(scratch)).toEqual([]);
  expect(processesUnder(scratch)).toEqual([]);
}, 60_000);
