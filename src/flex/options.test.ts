import { describe, expect, test } from "bun:test";
import { InvalidRequestError } from "../errors.ts";
import { buildMountRequest, parseFileMode, parseMountArgs, parseOptionsJson, parsePolicies } from "./options.ts";
import { parsePodVolumePath } from "./podpath.ts";

const DIR = "/var/lib/kubelet/pods/0c8e4a1e-1111-2222-3333-444455556666/volumes/cloudwatt~vaulttmpfs/vault";
const BASE = {
  "kubernetes.io/fsType": "",
  "kubernetes.io/pod.name": "web-0",
  "kubernetes.io/pod.namespace": "shop",
  "kubernetes.io/pod.uid": "0c8e4a1e-1111-2222-3333-444455556666",
  "kubernetes.io/readwrite": "rw",
  "kubernetes.io/serviceAccount.name": "web",
  "vault/policies": "app",
};
const build = (extra: Record<string, string | undefined>) =>
  buildMountRequest(parsePodVolumePath(DIR), Object.fromEntries(Object.entries({ ...BASE, ...extra }).filter(([, v]) => v !== undefined)) as Record<string, string>);

describe("parsePodVolumePath", () => {
  test("splits the kubelet's layout", () => {
    expect(parsePodVolumePath(DIR)).toEqual({ dir: DIR, kubeletRoot: "/var/lib/kubelet", podUid: "0c8e4a1e-1111-2222-3333-444455556666", driverDir: "cloudwatt~vaulttmpfs", volumeName: "vault" });
  });
  test.each([
    ["relative", "pods/u/volumes/a~b/v"],
    ["dot-dot", "/var/lib/kubelet/pods/u/volumes/a~b/../../../etc"],
    ["dot-dot segment in the middle", "/var/lib/kubelet/pods/../pods/u/volumes/a~b/v"],
    ["no volumes segment", "/var/lib/kubelet/pods/u/v"],
    ["driver dir without ~", "/var/lib/kubelet/pods/u/volumes/vault/v"],
    ["extra depth", "/var/lib/kubelet/pods/u/volumes/a~b/v/w"],
    ["double slash", "/var/lib/kubelet//pods/u/volumes/a~b/v"],
    ["empty", ""],
    ["bad uid", "/var/lib/kubelet/pods/-x/volumes/a~b/v"],
  ])("refuses a %s path", (_name, dir) => expect(() => parsePodVolumePath(dir)).toThrow(InvalidRequestError));
});

describe("parseOptionsJson", () => {
  test("decodes Go's \\u003c escapes and non-ASCII", () => {
    expect(parseOptionsJson('{"a":"\\u003cx\\u0026y\\u003e","b":"héllo"}')).toEqual({ a: "<x&y>", b: "héllo" });
  });
  test.each([["not json", "{"], ["an array", "[]"], ["null", "null"], ["a number value", '{"a":1}'], ["a nested object", '{"a":{}}']])(
    "refuses %s",
    (_n, json) => expect(() => parseOptionsJson(json)).toThrow(InvalidRequestError),
  );
});

describe("parseMountArgs", () => {
  test("accepts the legacy <dir> <device> <json> form", () => {
    expect(parseMountArgs([DIR, "/dev/null", JSON.stringify(BASE)]).policies).toEqual(["app"]);
  });
  test.each([[[]], [[DIR]], [[DIR, "a", "b", "c"]]])("refuses %p arguments", (args) => expect(() => parseMountArgs(args)).toThrow(/mount takes/));
});

describe("buildMountRequest", () => {
  test("reads identity from the kubelet's keys", () => {
    const req = build({});
    expect(req.pod).toEqual({ uid: "0c8e4a1e-1111-2222-3333-444455556666", namespace: "shop", name: "web-0", serviceAccount: "web" });
    expect(req).toMatchObject({ unwrap: false, readOnly: false, fsGroup: undefined, role: undefined });
  });
  test("takes the UID from the path when the kubelet is old", () => {
    expect(build({ "kubernetes.io/pod.uid": undefined }).pod.uid).toBe("0c8e4a1e-1111-2222-3333-444455556666");
  });
  test("refuses a UID that disagrees with the path", () => {
    expect(() => build({ "kubernetes.io/pod.uid": "other" })).toThrow(/does not match/);
  });
  test("fsGroup from the current and the pre-1.15 key", () => {
    expect(build({ "kubernetes.io/mounterArgs.FsGroup": "1234" }).fsGroup).toBe(1234);
    expect(build({ "kubernetes.io/fsGroup": "42" }).fsGroup).toBe(42);
  });
  test("empty service account and fsType are fine", () => {
    expect(build({ "kubernetes.io/serviceAccount.name": "" }).pod.serviceAccount).toBe("");
  });
  test("unknown vault/* keys are refused with the list of known ones; other keys are ignored", () => {
    expect(() => build({ "vault/polices": "x" })).toThrow(/unknown option\(s\) "vault\/polices"; known options: vault\/policies/);
    expect(build({ "example.com/other": "x" }).policies).toEqual(["app"]);
  });
  test("a secretRef is refused: the driver needs none and the kubelet puts its values in argv", () => {
    expect(() => build({ "kubernetes.io/secret/k": "c2VjcmV0" })).toThrow("this driver takes no secretRef");
  });
  test.each([
    ["vault/uid", "-1"], ["vault/uid", "2147483648"], ["vault/gid", "abc"], ["vault/unwrap", "yes"],
    ["kubernetes.io/readwrite", "x"], ["kubernetes.io/mounterArgs.FsGroup", "x"], ["vault/ttl", "abc"], ["vault/ttl", "0"],
    ["vault/role", "../x"], ["vault/role", ""],
  ])("%p=%p is refused", (key, value) => expect(() => build({ [key]: value })).toThrow(InvalidRequestError));
  test("vault/ttl in seconds", () => expect(build({ "vault/ttl": "1h" }).ttlSeconds).toBe(3600));
  test("readOnly and unwrap", () => expect(build({ "kubernetes.io/readwrite": "ro", "vault/unwrap": "true" })).toMatchObject({ readOnly: true, unwrap: true }));
  test("needs namespace and name", () => expect(() => build({ "kubernetes.io/pod.namespace": undefined })).toThrow(/1.8 or later/));
});

describe("parsePolicies", () => {
  test("comma-separated, spaces ignored, empties dropped, lower-cased, de-duplicated", () => {
    expect(parsePolicies(" app , ,DB-read,app ")).toEqual(["app", "db-read"]);
  });
  test.each([[undefined, /required/], ["", /names no policy/], [" , ", /names no policy/], ["app,root", /"root" is never granted/], ["ROOT", /root/], ["a;b", /malformed/], ["team.x/../admin", /malformed .*no '\/' or '\.\.'/], ["team.x/y", /malformed/], ["team..x", /malformed/]])(
    "%p is refused",
    (raw, message) => expect(() => parsePolicies(raw)).toThrow(message),
  );
});

describe("parseFileMode", () => {
  test.each([["0440", 0o440], ["440", 0o440], ["0644", 0o644], ["0400", 0o400]])("%p", (raw, mode) => expect(parseFileMode(raw)).toBe(mode));
  test.each([["4440", /setuid/], ["0755", /execute/], ["0666", /group or other write/], ["0040", /owner read/], ["rw-r--r--", /octal/], ["0888", /octal/], ["", /octal/]])(
    "%p is refused",
    (raw, message) => expect(() => parseFileMode(raw)).toThrow(message),
  );
});
