import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../flags.ts";
import { checkTarget, ensureParentDirs, generatorTokenRequest, parseBootstrapFlags, REVOKE_ONLY_POLICY, TargetExistsError, writeTokenFile } from "./plan.ts";

describe("parseBootstrapFlags", () => {
  test("defaults: ask for policy and path, 24h period, ldap mount, no force", () => {
    expect(parseBootstrapFlags([])).toEqual({ policies: undefined, periodSeconds: 86400, path: undefined, ldapMount: "ldap", username: undefined, force: false, revokeOnly: false });
  });

  test("--revoke-only picks the revoke-only policy unless --policy names another", () => {
    expect(parseBootstrapFlags(["--revoke-only"])).toMatchObject({ revokeOnly: true, policies: [REVOKE_ONLY_POLICY] });
    expect(parseBootstrapFlags(["--revoke-only", "--policy", "mine"])).toMatchObject({ revokeOnly: true, policies: ["mine"] });
  });

  test("every flag, both spellings", () => {
    const flags = parseBootstrapFlags(["--policy=a, b", "--period", "90m", "--path", "/etc/k/t", "--ldap-mount", "corp/ldap", "--username=bob", "--force"]);
    expect(flags).toEqual({ policies: ["a", "b"], periodSeconds: 5400, path: "/etc/k/t", ldapMount: "corp/ldap", username: "bob", force: true, revokeOnly: false });
  });

  test.each([
    ["a root generator", ["--policy", "root"], "must never be root"],
    ["an empty policy list", ["--policy", " , "], "at least one policy"],
    ["a policy name with a slash", ["--policy", "a/b"], "is not a policy name"],
    ["a zero period", ["--period", "0"], "at least 1s"],
    ["an unparsable period", ["--period", "1day"], "--period: time: unknown unit"],
    ["a relative path", ["--path", "vaulttoken"], "must be an absolute file path"],
    ["a directory path", ["--path", "/etc/kubernetes/"], "must be an absolute file path"],
    ["a mount with ..", ["--ldap-mount", "../sys"], "is not a Vault auth mount path"],
    ["an empty username", ["--username", " "], "must not be empty"],
  ])("refuses %s as a usage error", (_name, args, message) => {
    expect(() => parseBootstrapFlags(args)).toThrow(UsageError);
    expect(() => parseBootstrapFlags(args)).toThrow(message);
  });
});

test("generatorTokenRequest: periodic, renewable, node in display name and metadata, creator only when known", () => {
  expect(generatorTokenRequest({ policies: ["p"], periodSeconds: 86400, node: "n1", creator: "alice" })).toEqual({
    policies: ["p"], period: "86400s", renewable: true, display_name: "vaulttmpfs-n1",
    meta: { applications: "kubernetes-flexvolume-vault-plugin", node: "n1", creator: "alice" },
  });
  expect(generatorTokenRequest({ policies: ["p"], periodSeconds: 60, node: "n1", creator: undefined }).meta).toEqual({ applications: "kubernetes-flexvolume-vault-plugin", node: "n1" });
});

describe("token file", () => {
  const root = mkdtempSync(join(tmpdir(), "vaulttmpfs-bootstrap-unit-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const mode = (p: string) => statSync(p).mode & 0o7777;

  test("checkTarget: new, replace with --force, refused without, never a directory", () => {
    const file = join(root, "t1");
    expect(checkTarget(file, false)).toBe("new");
    writeFileSync(file, "x");
    expect(() => checkTarget(file, false)).toThrow(TargetExistsError);
    expect(() => checkTarget(file, false)).toThrow("pass --force");
    expect(checkTarget(file, true)).toBe("replace");
    expect(() => checkTarget(root, true)).toThrow("is not a file");
  });

  test("writeTokenFile: missing parents made 0750 despite the umask, file 0640 with a newline", () => {
    const file = join(root, "a", "b", "vaulttoken");
    const old = process.umask(0o077);
    try {
      writeTokenFile(file, "hvs.x", false);
    } finally {
      process.umask(old);
    }
    expect(readFileSync(file, "utf8")).toBe("hvs.x\n");
    expect(mode(file)).toBe(0o640);
    expect([mode(join(root, "a")), mode(join(root, "a", "b"))]).toEqual([0o750, 0o750]);
  });

  test("writeTokenFile re-checks: a file that appeared meanwhile is not clobbered without --force", () => {
    const file = join(root, "t2");
    writeFileSync(file, "someone else's");
    expect(() => writeTokenFile(file, "hvs.y", false)).toThrow(TargetExistsError);
    expect(readFileSync(file, "utf8")).toBe("someone else's");
    writeTokenFile(file, "hvs.y", true);
    expect(readFileSync(file, "utf8")).toBe("hvs.y\n");
  });

  test("ensureParentDirs leaves existing directories alone", () => {
    mkdirSync(join(root, "existing"), { mode: 0o755 });
    expect(ensureParentDirs(join(root, "existing", "new", "f"), 0o750)).toEqual([join(root, "existing", "new")]);
    expect(mode(join(root, "existing"))).toBe(0o755);
  });
});
