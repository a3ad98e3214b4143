import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { grantsBeyond, parsePolicyRules, PolicyTextError } from "./policy-text.ts";

const ALLOWED = ["auth/token/revoke-accessor", "auth/token/renew-self", "auth/token/lookup-self", "auth/token/lookup-accessor", "auth/token/revoke-self", "sys/capabilities-self"];
const policy = (name: string) => readFileSync(join(import.meta.dir, "..", "..", "policies", name), "utf8");

describe("parsePolicyRules", () => {
  test("the shipped revoke-only policy grants nothing beyond its six paths", () => {
    const rules = parsePolicyRules(policy("revoke_only_policy.hcl"));
    expect(rules.map((r) => r.path).sort()).toEqual([...ALLOWED].sort());
    expect(grantsBeyond(rules, ALLOWED)).toEqual([]);
  });

  test("the shipped generator policy is caught: it may create on a token role", () => {
    const beyond = grantsBeyond(parsePolicyRules(policy("token_generator_policy.hcl")), ALLOWED);
    expect(beyond.map((r) => r.path)).toContain("auth/token/create/applications");
  });

  test("comments of every kind, trailing commas, quoted keys, JSON", () => {
    const text = `# a\n// b\n/* c\n path "sys/x" { capabilities = ["root"] } */\npath "auth/token/renew-self" {\n  "capabilities" = ["update",]\n}\npath "sys/auth/*" { capabilities = ["deny"] }`;
    expect(parsePolicyRules(text)).toEqual([
      { path: "auth/token/renew-self", capabilities: ["update"] },
      { path: "sys/auth/*", capabilities: ["deny"] },
    ]);
    expect(grantsBeyond(parsePolicyRules(text), ALLOWED)).toEqual([]);
    const json = JSON.stringify({ path: { "auth/token/create": { capabilities: ["update"] } } });
    expect(grantsBeyond(parsePolicyRules(json), ALLOWED)).toEqual([{ path: "auth/token/create", capabilities: ["update"] }]);
  });

  test("a glob over an allowed path is not that path", () => {
    expect(grantsBeyond(parsePolicyRules(`path "auth/token/revoke-accessor*" { capabilities = ["update"] }`), ALLOWED)).toHaveLength(1);
    expect(grantsBeyond(parsePolicyRules(`path "auth/token/+" { capabilities = ["update"] }`), ALLOWED)).toHaveLength(1);
  });

  test("anything not understood is refused, not skipped", () => {
    for (const text of [
      `path "auth/token/create" { policy = "write" }`,
      `path "auth/token/renew-self" { capabilities = ["update"] allowed_parameters = { "*" = [] } }`,
      `path "x" { capabilities = <<EOF\n["update"]\nEOF\n}`,
      `path "x" { capabilities = ["update"]`,
      `path "x\\u0041" { capabilities = ["update"] }`,
      `path "\${identity.entity.id}" { capabilities = ["update"] }`,
      `name "x" {}`,
      `{"path": {"x": {"capabilities": ["update"], "min_wrapping_ttl": "1s"}}}`,
      `{"path": [1]}`,
      `{not json`,
      // A key repeated in one object: Vault keeps every copy, JSON.parse only the last, which would hide the first's grants.
      `{"path": {"auth/token/create/team-*": {"capabilities": ["update"]}}, "path": {"auth/token/renew-self": {"capabilities": ["update"]}}}`,
      `{"path": {"auth/token/create/team-*": {"capabilities": ["update"]}, "auth/token/create/team-*": {}}}`,
      `{"path": {"auth/token/create-orphan": {"capabilities": ["update"], "capabilities": []}}}`,
      `{"path": {"x": {}}, "\\u0070ath": {"auth/token/create": {"capabilities": ["update"]}}}`,
    ]) {
      expect(() => parsePolicyRules(text), text).toThrow(PolicyTextError);
    }
  });
});
