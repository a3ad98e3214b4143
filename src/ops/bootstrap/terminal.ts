/**
 * Questions to a person at the controlling terminal (`/dev/tty`), never via
 * stdin/stdout: stdout stays for results a script may capture, and a password
 * is read with echo off from the terminal itself, even when stdin is piped.
 */
import { constants, openSync, readSync, writeSync } from "node:fs";
import { ReadStream } from "node:tty";

export interface Prompter {
  /** One line, echoed. An empty answer gives `fallback` (shown as `[fallback]`). */
  ask(question: string, fallback?: string): Promise<string>;
  /** One line, not echoed (no asterisks either: they would show the length). */
  askHidden(question: string): Promise<string>;
  /** Restores the terminal and releases it; idempotent. */
  close(): void;
}

/** Ctrl-C, Ctrl-D on an empty line, or the command's abort signal (SIGTERM). Exit 130. */
export class PromptInterrupted extends Error {
  override name = "PromptInterrupted";
}

export type LineEnd = "enter" | "interrupt" | "eof";

export interface LineStep {
  /** The line so far. */
  readonly text: string;
  /** What to write back when echoing: typed characters and `\b \b` for erasures. */
  readonly echo: string;
  /** Set when the line is over; `rest` is input typed ahead for the next question. */
  readonly end?: LineEnd;
  readonly rest: string;
}

// Arrow keys, Home/End…: CSI and SS3 sequences carry no text, drop them whole.
const ESCAPE_SEQUENCE = /^\x1b(?:\[[0-9;?]*[ -/]*[@-~]|O.|.)?/s;

/**
 * Applies raw-mode input to a line: Enter (CR or LF) ends it, Backspace/DEL
 * erases one character, Ctrl-U the whole line, Ctrl-C interrupts, Ctrl-D
 * ends an empty line as EOF; other control characters are ignored. Pure.
 */
export function editLine(text: string, input: string): LineStep {
  let echo = "";
  for (let i = 0; i < input.length; ) {
    const ch = input[i] ?? "";
    if (ch === "\x1b") {
      i += ESCAPE_SEQUENCE.exec(input.slice(i))?.[0].length ?? 1;
      continue;
    }
    i += ch.length;
    if (ch === "\r" || ch === "\n") return { text, echo, end: "enter", rest: input.slice(i).replace(/^\n/, "") };
    if (ch === "\x03") return { text, echo, end: "interrupt", rest: "" };
    if (ch === "\x04" && text === "") return { text, echo, end: "eof", rest: "" };
    if (ch === "\x7f" || ch === "\b") {
      if (text !== "") echo += "\b \b";
      text = [...text].slice(0, -1).join("");
    } else if (ch === "\x15") {
      echo += "\b \b".repeat([...text].length);
      text = "";
    } else if (ch >= " ") {
      text += ch;
      echo += ch;
    }
  }
  return { text, echo, rest: "" };
}

const POLL_MS = 15;

/**
 * Opens the controlling terminal, or returns `null` when the process has none
 * (cron, systemd, `setsid`, a pod): the caller must then not ask anything.
 *
 * The terminal is read with non-blocking reads on a short timer, not through
 * a `tty.ReadStream`: in Bun 1.4.5 a ReadStream on an fd we opened keeps the
 * event loop alive after it has delivered data, even once destroyed, so the
 * command would never exit. The ReadStream is kept only for `setRawMode`.
 */
export function openTerminal(signal?: AbortSignal, path = "/dev/tty"): Prompter | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return null;
  }
  const tty = new ReadStream(fd);
  const write = (s: string) => void writeSync(fd, s);
  const decoder = new TextDecoder();
  const buffer = Buffer.alloc(4096);
  let typedAhead = "";
  let closed = false;

  /** What the person typed since the last call: "" when nothing yet, `null` on hang-up or EOF. */
  function readAvailable(): string | null {
    try {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      return n === 0 ? null : decoder.decode(buffer.subarray(0, n), { stream: true });
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EAGAIN" ? "" : null;
    }
  }

  function readLine(question: string, echo: boolean): Promise<string> {
    if (closed) return Promise.reject(new Error("the terminal is closed"));
    return new Promise((resolve, reject) => {
      let text = "";
      const finish = (end: LineEnd) => {
        tty.setRawMode(false);
        write("\r\n");
        if (end === "enter") resolve(text);
        else reject(new PromptInterrupted(end === "eof" ? "no answer (end of input)" : "interrupted"));
      };
      /** Applies input; true when the line is over. */
      const feed = (chunk: string): boolean => {
        const step = editLine(text, chunk);
        text = step.text;
        if (echo && step.echo) write(step.echo);
        if (step.end) {
          typedAhead = step.rest;
          finish(step.end);
        }
        return step.end !== undefined;
      };
      const poll = () => {
        if (signal?.aborted) return finish("interrupt");
        const chunk = readAvailable();
        if (chunk === null) return finish("eof");
        if (!feed(chunk)) setTimeout(poll, chunk === "" ? POLL_MS : 0);
      };
      // Raw mode: the terminal's own echo is off for both kinds of question; we echo visible answers ourselves.
      // Switched on before the question shows: a password typed the instant the prompt appears
      // would otherwise be echoed by the terminal (the full suite, under load, caught it on screen).
      tty.setRawMode(true);
      write(question);
      const pending = typedAhead;
      typedAhead = "";
      if (!feed(pending)) poll();
    });
  }

  return {
    async ask(question, fallback) {
      const answer = (await readLine(fallback === undefined ? `${question}: ` : `${question} [${fallback}]: `, true)).trim();
      return answer === "" && fallback !== undefined ? fallback : answer;
    },
    askHidden: (question) => readLine(`${question}: `, false),
    close() {
      if (closed) return;
      closed = true;
      try {
        tty.setRawMode(false);
      } finally {
        tty.destroy(); // closes fd
      }
    },
  };
}
