import { describe, expect, test } from "bun:test";
import { ForbiddenError } from "../errors.ts";
import { ambiguousPatterns, authorizePolicies, compilePattern, expandTemplate, resolveRole } from "./authorize.ts";

const pod = (namespace: string, serviceAccount = "default") => ({ uid: "u", name: "p", namespace, serviceAccount });

describe("compilePattern", () => {
  const cases: [string, string, string, boolean][] = [
    ["{namespace}-*", "a", "a-app", true],
    ["{namespace}-*", "a", "b-app", false],
    ["{namespace}-*", "a", "a-", true],
    ["shared-read", "a", "shared-read", true],
    ["shared-read", "a", "shared-read2", false],
    ["shared-read", "a", "Shared-read", false],
    ["*", "a", "anything", true],
    ["{namespace}-{serviceaccount}", "a", "a-default", true],
    ["app.v1", "a", "appxv1", false],
    // placeholder values are literals: a namespace named like a glob widens nothing
    ["{namespace}-*", "*", "b-app", false],
    ["{namespace}-*", "*", "*-app", true],
    ["{namespace}", "a*", "abc", false],
    ["{namespace}", "a*", "a*", true],
    ["{namespace}-x", "a.b", "aXb-x", false],
  ];
  test.each(cases)("%p in namespace %p vs %p → %p", (pattern, ns, name, expected) => {
    expect(compilePattern(pattern, pod(ns)).test(name)).toBe(expected);
  });
});

test("expandTemplate", () => {
  expect(expandTemplate("k8s-{namespace}", pod("team-a"))).toBe("k8s-team-a");
  expect(expandTemplate("{namespace}-{serviceaccount}", pod("a", "web"))).toBe("a-web");
  expect(expandTemplate("applications", pod("a"))).toBe("applications");
});

describe("resolveRole", () => {
  test("default role, expanded", () => {
    expect(resolveRole({ defaultRole: "k8s-{namespace}", requested: undefined, allowedRoles: null, pod: pod("a") })).toBe("k8s-a");
  });
  test("override refused under a templated role", () => {
    expect(() => resolveRole({ defaultRole: "k8s-{namespace}", requested: "k8s-b", allowedRoles: null, pod: pod("a") })).toThrow(ForbiddenError);
  });
  test("override allowed by pattern", () => {
    expect(resolveRole({ defaultRole: "k8s-{namespace}", requested: "k8s-a-batch", allowedRoles: ["k8s-{namespace}-*"], pod: pod("a") })).toBe("k8s-a-batch");
    expect(() => resolveRole({ defaultRole: "x", requested: "k8s-b-batch", allowedRoles: ["k8s-{namespace}-*"], pod: pod("a") })).toThrow(/may not use role "k8s-b-batch"/);
  });
  test("empty service account cannot produce a role name", () => {
    expect(() => resolveRole({ defaultRole: "{serviceaccount}", requested: undefined, allowedRoles: null, pod: pod("a", "") })).toThrow(ForbiddenError);
  });
});

test("authorizePolicies names namespace and refused policy", () => {
  expect(() => authorizePolicies(["a-app", "shared-read"], ["{namespace}-*", "shared-read"], pod("a"))).not.toThrow();
  expect(() => authorizePolicies(["a-app", "b-app"], ["{namespace}-*"], pod("a"))).toThrow(/policy "b-app": not allowed in namespace "a"/);
});

test("ambiguousPatterns: a placeholder followed by what a name may contain", () => {
  expect(ambiguousPatterns([
    "{namespace}-*", "{namespace}.*", "{namespace}_*", "shared-read", "k8s-{namespace}", "{namespace}-apps",
    "{namespace}-{serviceaccount}", "{namespace}_{serviceaccount}", "{namespace}.{serviceaccount}_*", "{namespace}*",
    "*-{namespace}", "app-*{namespace}", "*.{namespace}", "{serviceaccount}.*", "x-{namespace}-y-*",
  ])).toEqual(["{namespace}-*", "{namespace}-{serviceaccount}", "{namespace}*", "*-{namespace}", "app-*{namespace}", "{serviceaccount}.*", "x-{namespace}-y-*"]);
  // the hole it warns about: namespace "team" matches namespace "team-a"'s policy
  expect(compilePattern("{namespace}-*", pod("team")).test("team-a-db")).toBe(true);
  expect(compilePattern("{namespace}.*", pod("team")).test("team-a.db")).toBe(false);
});
