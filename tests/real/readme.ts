/**
 * The README's operator steps, executed as written against a real OpenBao:
 * its `sh` blocks and its inline `vault …` commands are read out of
 * README.md and run by `sh -eu` with the bao binary on PATH under the name
 * `vault`, so a README step that a real server refuses fails a test.
 *
 * The only rewriting is where the operator's machine differs from the
 * test's, and each test names it with `nodePaths`: node files under /etc are
 * moved into the test's temp dir (the tests must not write the host's /etc).
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { BaoServer } from "../support/bao.ts";

export const REPO = join(import.meta.dir, "..", "..");
const README = join(REPO, "README.md");

/** The text under the first heading that starts with `heading` (any level), up to the next heading of the same or a higher level. */
export function readmeSection(heading: string): string {
  const lines = readFileSync(README, "utf8").split("\n");
  let level = 0;
  const out: string[] = [];
  let inFence = false;
  for (const line of lines) {
    if (line.startsWith("```")) inFence = !inFence;
    const h = inFence ? null : /^(#{1,6}) (.*)$/.exec(line);
    if (level === 0) {
      if (h && h[2]!.startsWith(heading)) level = h[1]!.length;
      continue;
    }
    if (h && h[1]!.length <= level) break;
    out.push(line);
  }
  if (level === 0) throw new Error(`README.md has no heading starting with ${JSON.stringify(heading)}`);
  return out.join("\n");
}

/** The ```sh blocks of a README section, in order. */
export function readmeShellBlocks(heading: string): string[] {
  return [...readmeSection(heading).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The inline code spans of a README section that are `vault …` commands, in order (table cells, prose). */
export function readmeInlineVaultCommands(heading: string): string[] {
  const text = readmeSection(heading).replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/`(vault [^`]+)`/g)].map((m) => m[1]!);
}

export interface ShellResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` as an operator would: `sh -eu` in the repository, `vault`
 * = this bao, VAULT_ADDR/VAULT_CACERT/VAULT_TOKEN (the root token, or
 * `opts.token`) in the environment. Throws with the server's own message
 * when a command fails, unless `allowFailure`.
 */
export async function runOperatorShell(bao: BaoServer, script: string, opts: { token?: string; env?: Record<string, string>; extraPath?: string; allowFailure?: boolean } = {}): Promise<ShellResult> {
  const bin = join(bao.dir, "operator-bin");
  if (!existsSync(join(bin, "vault"))) {
    mkdirSync(bin, { recursive: true });
    symlinkSync(bao.binary, join(bin, "vault"));
  }
  const path = [bin, opts.extraPath, "/usr/sbin:/usr/bin:/sbin:/bin"].filter(Boolean).join(":");
  const child = Bun.spawn(["sh", "-eu", "-c", script], {
    cwd: REPO,
    env: { ...bao.cliEnv(opts.token ? { VAULT_TOKEN: opts.token } : {}), ...opts.env, PATH: path },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const exitCode = await child.exited;
  if (exitCode !== 0 && !opts.allowFailure) {
    throw new Error(`README step failed on OpenBao (exit ${exitCode}):\n${script}\n--- stderr ---\n${stderr}`);
  }
  return { exitCode, stdout, stderr };
}

/** Node paths the README uses, mapped into a test's temp dir. */
export function nodePaths(script: string, map: Record<string, string>): string {
  let out = script;
  for (const [from, to] of Object.entries(map)) out = out.replaceAll(from, to);
  return out;
}

/** Writes the token the README's `$(cat ~/.vault-token)` reads, as `vault login` would have. */
export function writeVaultTokenHelperFile(home: string, token: string): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, ".vault-token"), token, { mode: 0o600 });
}
