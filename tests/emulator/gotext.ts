/**
 * Go-compatible text helpers for the Vault emulator: `%q` quoting, go-multierror text,
 * `time.Duration` printing/parsing, parseutil.ParseDurationSecond, strconv errors and
 * RFC3339Nano timestamps. Error messages are Go's, word for word.
 */

/** An error whose message is exactly what the Go code would print. */
export class GoError extends Error {
  override name = "GoError";
}

const HEX = "0123456789abcdef";
const SIMPLE_ESCAPES: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };

/** strconv.Quote / `%q` of a string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (SIMPLE_ESCAPES[cp] !== undefined) out += SIMPLE_ESCAPES[cp];
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + HEX[cp >> 4] + HEX[cp & 15];
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\ufffd"; // lone surrogate: Go sees U+FFFD
    else if (cp >= 0x80 && /[\p{C}\p{Z}]/u.test(ch)) {
      out += cp > 0xffff ? "\\U" + cp.toString(16).padStart(8, "0") : "\\u" + cp.toString(16).padStart(4, "0");
    } else out += ch;
  }
  return out + '"';
}

/** `%q` of a []string: `["a" "b"]`, empty or nil → `[]`. */
export function goQuoteList(list: readonly string[] | null | undefined): string {
  return "[" + (list ?? []).map(goQuote).join(" ") + "]";
}

/** `%v` of a []string: `[a b]`. */
export function goList(list: readonly string[]): string {
  return "[" + list.join(" ") + "]";
}

/** go-multierror ListFormatFunc. */
export function multiError(errs: readonly string[]): string {
  if (errs.length === 1) return `1 error occurred:\n\t* ${errs[0]}\n\n`;
  return `${errs.length} errors occurred:\n\t${errs.map((e) => `* ${e}`).join("\n\t")}\n\n`;
}

/** time.Duration.String() for a duration given in seconds (may be fractional). */
export function goDurationString(seconds: number): string {
  if (seconds === 0) return "0s";
  const neg = seconds < 0;
  let ns = Math.round(Math.abs(seconds) * 1e9);
  let out: string;
  if (ns < 1e9) {
    if (ns < 1e3) out = `${ns}ns`;
    else if (ns < 1e6) out = `${trimFrac(ns / 1e3)}µs`;
    else out = `${trimFrac(ns / 1e6)}ms`;
  } else {
    const h = Math.floor(ns / 3600e9); ns -= h * 3600e9;
    const m = Math.floor(ns / 60e9); ns -= m * 60e9;
    const s = `${trimFrac(ns / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return (neg ? "-" : "") + out;
}

function trimFrac(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, "");
}

/** sdk/framework humanDuration: `1h`, `10m`, `768h`, `1h30m`, `9m59s`. */
export function humanDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  let s = goDurationString(seconds);
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  if (s.endsWith("h0m")) s = s.slice(0, -2);
  return s;
}

/** The time package's own quote(): non-ASCII and control bytes become \xNN. */
function timeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x80 || cp < 0x20) {
      for (const b of new TextEncoder().encode(ch)) out += "\\x" + HEX[b >> 4] + HEX[b & 15];
    } else out += ch === '"' || ch === "\\" ? "\\" + ch : ch;
  }
  return out + '"';
}

const UNIT_NS: Record<string, bigint> = {
  ns: 1n, us: 1_000n, "µs": 1_000n, "μs": 1_000n, ms: 1_000_000n, s: 1_000_000_000n,
  m: 60_000_000_000n, h: 3_600_000_000_000n,
};
const MAX_DURATION = (1n << 63n) - 1n;

/** Go time.ParseDuration; returns nanoseconds. */
export function parseGoDuration(orig: string): bigint {
  const invalid = () => new GoError(`time: invalid duration ${timeQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) { neg = s[0] === "-"; s = s.slice(1); }
  if (s === "0") return 0n;
  if (s === "") throw invalid();
  let total = 0n;
  while (s !== "") {
    if (!/^[0-9.]/.test(s)) throw invalid();
    const intMatch = /^[0-9]*/.exec(s)?.[0] ?? "";
    s = s.slice(intMatch.length);
    let frac = "";
    if (s.startsWith(".")) { s = s.slice(1); frac = /^[0-9]*/.exec(s)?.[0] ?? ""; s = s.slice(frac.length); }
    if (intMatch === "" && frac === "") throw invalid();
    const unitMatch = /^[^0-9.]*/.exec(s)?.[0] ?? "";
    if (unitMatch === "") throw new GoError(`time: missing unit in duration ${timeQuote(orig)}`);
    s = s.slice(unitMatch.length);
    const unit = UNIT_NS[unitMatch];
    if (unit === undefined) throw new GoError(`time: unknown unit ${timeQuote(unitMatch)} in duration ${timeQuote(orig)}`);
    const v = BigInt(intMatch === "" ? "0" : intMatch);
    if (v > (1n << 63n) / unit) throw invalid();
    let part = v * unit;
    if (frac !== "") part += (BigInt(frac.slice(0, 18).padEnd(18, "0")) * unit) / 10n ** 18n;
    total += part;
    if (total > 1n << 63n) throw invalid();
  }
  if (neg) return -total;
  if (total > MAX_DURATION) throw invalid();
  return total;
}

/** strconv.ParseInt(s, 10, 64). */
export function parseGoInt(s: string): bigint {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new GoError(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > MAX_DURATION || v < -(1n << 63n)) throw new GoError(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return v;
}

/** strconv.Atoi (error text uses "Atoi"). */
export function goAtoi(s: string): number {
  try {
    return Number(parseGoInt(s));
  } catch (e) {
    throw new GoError((e as Error).message.replace("strconv.ParseInt", "strconv.Atoi"));
  }
}

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  throw new GoError(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
}

/** Go's text for a JSON number decoded as json.Number / FormatFloat(f, 'f', -1, 64). */
export function goNumberText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return String(n);
}

/**
 * parseutil.ParseDurationSecond: "" / null → 0; an integer string means seconds; `<int>d`
 * means days; otherwise time.ParseDuration. JSON numbers are read through their text.
 * Returns seconds (fractional for sub-second inputs such as "500ms").
 */
export function parseDurationSecond(input: unknown): number {
  if (input === null || input === undefined) return 0;
  if (typeof input === "number") return parseDurationSecond(goNumberText(input));
  if (typeof input !== "string") throw new GoError("could not parse duration from input");
  if (input === "") return 0;
  if (/^[+-]?[0-9]+$/.test(input)) {
    try {
      return Number(parseGoInt(input));
    } catch { /* out of range: fall through like Go (ParseDuration reports it) */ }
  }
  if (input.endsWith("d")) return Number(parseGoInt(input.slice(0, -1))) * 86400;
  return Number(parseGoDuration(input)) / 1e9;
}

/** RFC3339Nano in UTC with trailing zeros trimmed, from epoch ms plus extra nanoseconds. */
export function rfc3339Nano(ms: number, extraNs = 0): string {
  const whole = Math.floor(ms / 1000);
  const nanos = (ms - whole * 1000) * 1e6 + extraNs;
  const base = new Date(whole * 1000).toISOString().slice(0, 19);
  const frac = Math.round(nanos).toString().padStart(9, "0").replace(/0+$/, "");
  return `${base}${frac === "" ? "" : "." + frac}Z`;
}

/** A sub-millisecond nanosecond component so timestamps look like Go's (9 digits). */
export function subMsNanos(): number {
  return Math.floor((performance.now() % 1) * 1e6);
}
