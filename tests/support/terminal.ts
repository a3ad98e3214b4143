/**
 * Runs `vaulttmpfs bootstrap` on a pseudo-terminal as its controlling
 * terminal, with stdout and stderr redirected to files in `dir`, so they can
 * be told apart from what the person sees (prompts and echo).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "./kubelet.ts";

export interface TerminalRun {
  readonly argv: readonly string[];
  /** Waits until the screen shows `text` (a prompt), then types `answer`. */
  answer(text: string, answer: string): Promise<void>;
  done(): Promise<{ exitCode: number; screen: string; stdout: string; stderr: string }>;
}

export function bootstrapOnTerminal(opts: { dir: string; args: readonly string[]; env: Record<string, string | undefined>; stdin?: "terminal" | "null"; promptTimeoutMs?: number }): TerminalRun {
  const [out, err] = [join(opts.dir, "stdout"), join(opts.dir, "stderr")];
  const redirect = `exec "$@" >"${out}" 2>"${err}"${opts.stdin === "null" ? " </dev/null" : ""}`;
  let screen = "";
  const decoder = new TextDecoder();
  const child = Bun.spawn(["sh", "-c", redirect, "sh", BINARY, "bootstrap", ...opts.args], {
    env: opts.env,
    terminal: { data: (_t, bytes) => void (screen += decoder.decode(bytes, { stream: true })) },
  });
  const timeout = opts.promptTimeoutMs ?? 10_000;
  return {
    argv: [BINARY, "bootstrap", ...opts.args],
    async answer(text, answer) {
      for (const started = Date.now(); !screen.includes(text); await Bun.sleep(10)) {
        if (Date.now() - started > timeout) throw new Error(`no ${JSON.stringify(text)} on the terminal; it shows ${JSON.stringify(screen)}`);
      }
      child.terminal!.write(answer);
    },
    async done() {
      const exitCode = await child.exited;
      child.terminal!.close();
      return { exitCode, screen, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
    },
  };
}
