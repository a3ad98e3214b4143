/**
 * Parsers that accept exactly what HashiCorp's Go client accepts for the
 * `VAULT_*` variables, so a node configured for the `vault` CLI is configured
 * for this driver too. Each throws an Error whose text matches Go's.
 */

const GO_BOOLS: Record<string, boolean> = {
  "1": true, t: true, T: true, TRUE: true, true: true, True: true,
  "0": false, f: false, F: false, FALSE: false, false: false, False: false,
};

/** Go `strconv.ParseBool`. */
export function parseGoBool(value: string): boolean {
  const parsed = GO_BOOLS[value];
  if (parsed === undefined) throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
  return parsed;
}

/** Go `strconv.ParseUint(v, 10, 32)`: digits only, no sign, no spaces. */
export function parseGoUint32(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax`);
  const n = Number(value);
  if (n > 0xffffffff) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(value)}: value out of range`);
  return n;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};

/** Go `time.ParseDuration`, in milliseconds (sub-millisecond precision is kept as a fraction). */
export function parseGoDuration(input: string): number {
  const fail = (why = "invalid duration") => new Error(`time: ${why} ${JSON.stringify(input)}`);
  let s = input;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw fail();
  let total = 0;
  while (s !== "") {
    const num = /^([0-9]*)(\.[0-9]*)?/.exec(s);
    if (!num || (num[1] === "" && (num[2] ?? "").length <= 1)) throw fail();
    s = s.slice(num[0].length);
    const unit = /^[^0-9.]+/.exec(s)?.[0];
    if (unit === undefined) throw new Error(`time: missing unit in duration ${JSON.stringify(input)}`);
    const factor = UNIT_MS[unit];
    if (factor === undefined) throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(input)}`);
    s = s.slice(unit.length);
    total += Number(num[0] === "." ? "0" : num[0]) * factor;
  }
  return sign * total;
}

/**
 * go-secure-stdlib `parseutil.ParseDurationSecond`, in milliseconds: a bare
 * integer is seconds, `<int>d` is days, anything else is `time.ParseDuration`.
 * The empty string is 0.
 */
export function parseDurationSecond(input: string): number {
  if (input === "") return 0;
  if (/^[+-]?[0-9]+$/.test(input)) return Number(input) * 1000;
  if (input.endsWith("d")) {
    const days = input.slice(0, -1);
    if (!/^[+-]?[0-9]+$/.test(days)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(days)}: invalid syntax`);
    return Number(days) * 86_400_000;
  }
  return parseGoDuration(input);
}

/** Renders seconds the way Go prints a `time.Duration` rounded to seconds (`1h0m0s` → `1h`, trimmed). */
export function formatSeconds(total: number): string {
  if (total <= 0) return "0s";
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = Math.floor(total % 60);
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s || (!h && !m) ? `${s}s` : ""}`;
}
