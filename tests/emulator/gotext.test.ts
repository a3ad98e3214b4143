/** Go-compat helpers: outputs and error texts must be Go's, word for word. */
import { describe, expect, test } from "bun:test";
import { goQuote, goQuoteList, humanDuration, multiError, parseDurationSecond, rfc3339Nano } from "./gotext.ts";
import { goGlob, sanitizePolicies } from "./policy.ts";
import { GoStruct, goMarshal } from "./wire.ts";

describe("parseDurationSecond (parseutil)", () => {
  test.each([
    ["", 0], ["300", 300], ["+30", 30], ["-5", -5], ["1d", 86400], ["5m", 300], ["1h30m", 5400], ["1.5h", 5400],
    ["500ms", 0.5], ["0", 0], [3600, 3600], [null, 0],
  ] as Array<[unknown, number]>)("%p → %p s", (input, want) => {
    expect(parseDurationSecond(input)).toBe(want);
  });

  test.each([
    ["1.5d", 'strconv.ParseInt: parsing "1.5": invalid syntax'],
    ["1h30", 'time: missing unit in duration "1h30"'],
    ["abc", 'time: invalid duration "abc"'],
    [" 30", 'time: invalid duration " 30"'],
    ["5M", 'time: unknown unit "M" in duration "5M"'],
    [".s", 'time: invalid duration ".s"'],
    [1.5, 'time: missing unit in duration "1.5"'],
  ] as Array<[unknown, string]>)("%p → %p", (input, message) => {
    expect(() => parseDurationSecond(input)).toThrow(message);
  });
});

describe("Go text", () => {
  test("%q of strings and slices", () => {
    expect(goQuote('a"b\\c\n\t\x01é')).toBe('"a\\"b\\\\c\\n\\t\\x01é"');
    expect(goQuoteList(["admin", "default"])).toBe('["admin" "default"]');
    expect(goQuoteList([])).toBe("[]");
  });

  test("multierror and humanDuration", () => {
    expect(multiError(["permission denied"])).toBe("1 error occurred:\n\t* permission denied\n\n");
    expect(multiError(["permission denied", "invalid token"])).toBe("2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n");
    expect([3600, 600, 2764800, 5400, 599, 0].map(humanDuration)).toEqual(["1h", "10m", "768h", "1h30m", "9m59s", "0s"]);
  });

  test("json.Marshal: struct order, sorted maps, HTML escaping, omitempty", () => {
    const v = new GoStruct([["z", 1], ["a", { b: "<&>", a: null }], ["omitted", undefined]]);
    expect(goMarshal(v)).toBe('{"z":1,"a":{"a":null,"b":"\\u003c\\u0026\\u003e"}}');
  });

  test("RFC3339Nano trims trailing zeros", () => {
    expect(rfc3339Nano(Date.UTC(2024, 4, 1, 10, 11, 12, 345), 678901)).toBe("2024-05-01T10:11:12.345678901Z");
    expect(rfc3339Nano(Date.UTC(2024, 4, 1, 10, 11, 5))).toBe("2024-05-01T10:11:05Z");
  });
});

describe("policy helpers", () => {
  test("SanitizePolicies and go-glob", () => {
    expect(sanitizePolicies([" App", "app", "default"], true)).toEqual(["app", "default"]);
    expect(sanitizePolicies(["app", "ROOT", "x"], true)).toEqual(["root"]);
    expect(sanitizePolicies([], true)).toEqual(["default"]);
    expect([goGlob("a-*", "a-app"), goGlob("*-db", "a-db"), goGlob("a*b*c", "axxbyyc"), goGlob("a*", "b-a")]).toEqual([true, true, true, false]);
  });
});
