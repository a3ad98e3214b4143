import { describe, expect, test } from "bun:test";
import { editLine, openTerminal } from "./terminal.ts";

describe("editLine", () => {
  test.each([
    ["plain text, no end yet", "", "abc", { text: "abc", echo: "abc", rest: "" }],
    ["CR ends the line", "ab", "c\r", { text: "abc", echo: "c", end: "enter", rest: "" }],
    ["LF ends the line", "", "x\n", { text: "x", echo: "x", end: "enter", rest: "" }],
    ["typed-ahead input after Enter is kept (CRLF counts once)", "", "alice\r\nsecret\r", { text: "alice", echo: "alice", end: "enter", rest: "secret\r" }],
    ["DEL erases one character", "abc", "\x7f", { text: "ab", echo: "\b \b", rest: "" }],
    ["backspace on an empty line echoes nothing", "", "\b", { text: "", echo: "", rest: "" }],
    ["backspace erases a whole non-BMP character", "a😀", "\x7f", { text: "a", echo: "\b \b", rest: "" }],
    ["Ctrl-U clears the line", "abc", "\x15", { text: "", echo: "\b \b\b \b\b \b", rest: "" }],
    ["Ctrl-C interrupts", "abc", "\x03", { text: "abc", echo: "", end: "interrupt", rest: "" }],
    ["Ctrl-D on an empty line is EOF", "", "\x04", { text: "", echo: "", end: "eof", rest: "" }],
    ["Ctrl-D inside a line is ignored", "a", "\x04", { text: "a", echo: "", rest: "" }],
    ["arrow keys (CSI) are dropped whole", "a", "\x1b[Db\x1bOA", { text: "ab", echo: "b", rest: "" }],
    ["other control characters are ignored", "", "a\tb\x07", { text: "ab", echo: "ab", rest: "" }],
  ] as const)("%s", (_name, text, input, expected) => {
    expect(editLine(text, input)).toEqual(expected as never);
  });
});

describe("openTerminal", () => {
  test("is null when the terminal cannot be opened (no controlling tty)", () => {
    expect(openTerminal(undefined, "/nonexistent/tty")).toBeNull();
  });
});
