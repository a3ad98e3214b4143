import { describe, expect, test } from "bun:test";
import { formatSeconds, parseDurationSecond, parseGoBool, parseGoDuration, parseGoUint32 } from "./goparse.ts";

describe("parseGoBool", () => {
  test.each(["1", "t", "T", "TRUE", "true", "True"])("%p is true", (v) => expect(parseGoBool(v)).toBe(true));
  test.each(["0", "f", "F", "FALSE", "false", "False"])("%p is false", (v) => expect(parseGoBool(v)).toBe(false));
  test.each(["yes", "on", "", " true", "tRuE"])("%p is rejected like Go", (v) =>
    expect(() => parseGoBool(v)).toThrow(`strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`));
});

describe("parseGoUint32", () => {
  test("plain digits", () => expect(parseGoUint32("5")).toBe(5));
  test.each(["+5", "-1", " 3", "3.0", "abc", ""])("%p is rejected", (v) =>
    expect(() => parseGoUint32(v)).toThrow("invalid syntax"));
  test("out of range", () => expect(() => parseGoUint32("4294967296")).toThrow("value out of range"));
});

describe("parseDurationSecond", () => {
  const cases: [string, number][] = [
    ["", 0], ["300", 300_000], ["+30", 30_000], ["-5", -5000], ["1d", 86_400_000], ["5m", 300_000],
    ["1h30m", 5_400_000], ["1.5h", 5_400_000], ["500ms", 500], ["0", 0], ["2h45m10s", 9_910_000],
  ];
  test.each(cases)("%p → %p ms", (input, ms) => expect(parseDurationSecond(input)).toBe(ms));
  const errors: [string, string][] = [
    ["1h30", 'time: missing unit in duration "1h30"'],
    ["abc", 'time: invalid duration "abc"'],
    [" 30", 'time: invalid duration " 30"'],
    ["5M", 'time: unknown unit "M" in duration "5M"'],
    ["1.5d", 'strconv.ParseInt: parsing "1.5": invalid syntax'],
  ];
  test.each(errors)("%p fails with Go's text", (input, message) => expect(() => parseDurationSecond(input)).toThrow(message));
});

test("parseGoDuration handles sign and fractions", () => {
  expect(parseGoDuration("-1.5s")).toBe(-1500);
  expect(() => parseGoDuration(".")).toThrow("invalid duration");
});

test.each([[3600, "1h"], [90, "1m30s"], [0, "0s"], [86400, "24h"], [61, "1m1s"]])("formatSeconds(%p) = %p", (s, out) =>
  expect(formatSeconds(s)).toBe(out));
