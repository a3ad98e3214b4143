import { describe, expect, test } from "bun:test";
import { describeNeeds, generatorNeeds, sampleRole, unmetNeeds } from "./capabilities.ts";
import { isRoleTemplate } from "../../authz/authorize.ts";

describe("generatorNeeds", () => {
  test("a plain role: create on its path, revoke-accessor, renew-self; nothing sampled", () => {
    const needs = generatorNeeds("applications");
    expect(needs.map((n) => n.path)).toEqual(["auth/token/create/applications", "auth/token/revoke-accessor", "auth/token/renew-self"]);
    expect(needs.some((n) => n.sampled)).toBe(false);
  });

  test("a templated role is checked with sample names and marked as sampled", () => {
    expect(isRoleTemplate("k8s-{namespace}")).toBe(true);
    expect(isRoleTemplate("applications")).toBe(false);
    expect(sampleRole("{namespace}-{serviceaccount}")).toBe("default-default");
    const [create] = generatorNeeds("k8s-{namespace}");
    expect(create).toMatchObject({ path: "auth/token/create/k8s-default", sampled: true });
  });
});

describe("unmetNeeds", () => {
  const needs = generatorNeeds("applications");
  const all = (caps: string[]) => Object.fromEntries(needs.map((n) => [n.path, caps]));

  test.each([
    ["create is enough", ["create"], 0],
    ["update is enough", ["update"], 0],
    ["root meets everything", ["root"], 0],
    ["read is not enough", ["read"], 3],
    ["deny wins even beside update", ["deny", "update"], 3],
    ["nothing granted", [], 3],
  ] as const)("%s", (_name, caps, unmet) => {
    expect(unmetNeeds(needs, all([...caps]))).toHaveLength(unmet);
  });

  test("a path missing from Vault's answer counts as denied", () => {
    expect(unmetNeeds(needs, { "auth/token/renew-self": ["update"] }).map((n) => n.path)).toEqual(["auth/token/create/applications", "auth/token/revoke-accessor"]);
  });

  test("describeNeeds names capability, path and purpose", () => {
    expect(describeNeeds(needs.slice(1, 2))).toBe("create or update on auth/token/revoke-accessor (revoke them at unmount)");
  });
});
