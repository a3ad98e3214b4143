import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { loadKubeconfig, parseKubeconfig, pemBlocks, readKubeTls } from "./kubeconfig.ts";

const dir = mkdtempSync(join(tmpdir(), "vaulttmpfs-kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CERT = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n";
const CA = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** kubeadm's shape after kubelet-finalize: names from `kubeadm init`, the rotating pair file. */
const KUBEADM = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${b64(CA)}
    server: https://10.0.0.1:6443/
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:node-1
  name: system:node:node-1@kubernetes
- context:
    cluster: other
    user: other
  name: unused
current-context: system:node:node-1@kubernetes
kind: Config
users:
- name: system:node:node-1
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
`;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe("VAULTTMPFS_KUBECONFIG");
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("parseKubeconfig", () => {
  test("kubeadm's kubelet.conf: the current context's cluster and user, inline CA, the pair file for both", () => {
    expect(parseKubeconfig(KUBEADM, "/etc/kubernetes/kubelet.conf")).toEqual({
      kubeconfig: "/etc/kubernetes/kubelet.conf",
      server: "https://10.0.0.1:6443",
      ca: { pem: CA },
      tlsServerName: undefined,
      clientCert: { file: "/var/lib/kubelet/pki/kubelet-client-current.pem" },
      clientKey: { file: "/var/lib/kubelet/pki/kubelet-client-current.pem" },
    });
  });

  test("pre-1.17 inline -data credentials, a CA file relative to the kubeconfig, tls-server-name, JSON syntax", () => {
    const json = JSON.stringify({
      clusters: [{ name: "c", cluster: { server: "https://api:6443", "certificate-authority": "pki/ca.crt", "tls-server-name": "kubernetes" } }],
      users: [{ name: "u", user: { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY) } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    });
    expect(parseKubeconfig(json, "/var/lib/kubelet/kubeconfig")).toEqual({
      kubeconfig: "/var/lib/kubelet/kubeconfig",
      server: "https://api:6443",
      ca: { file: "/var/lib/kubelet/pki/ca.crt" },
      tlsServerName: "kubernetes",
      clientCert: { pem: CERT },
      clientKey: { pem: KEY },
    });
  });

  test.each([
    ["not YAML at all", "a: [", "not valid YAML"],
    ["a list", "- a", "expected a mapping"],
    ["no current context", "contexts: []", "has no current-context"],
    ["a current context that is not there", "current-context: x\ncontexts: []", `current-context "x" is not among its contexts`],
    ["a context without its cluster", "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]", "names no cluster"],
    ["plain http", "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'http://a'}}]\nusers: [{name: u, user: {token: t}}]", "is not https"],
    ["skipped verification", "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {client-certificate: a, client-key: b}}]", "never skips verifying"],
    ["a token user (EKS-style)", "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]", "has exec credentials; pod identity mode needs the kubelet's client certificate"],
    ["-data that is not PEM", "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {client-certificate-data: bm9wZQ==, client-key: k}}]", "client-certificate-data is not base64 of PEM"],
  ])("refuses %s, naming VAULTTMPFS_KUBECONFIG and the file", (_name, text, message) => {
    const m = refusal(() => parseKubeconfig(text, "/k.conf"));
    expect(m).toStartWith("VAULTTMPFS_KUBECONFIG: /k.conf: ");
    expect(m).toContain(message);
  });
});

describe("reading the credentials", () => {
  test("the kubelet's pair file is split into certificate chain and key, read fresh at every call", () => {
    const pair = join(dir, "kubelet-client-current.pem");
    const caFile = join(dir, "ca.crt");
    writeFileSync(pair, CERT + CERT + KEY);
    writeFileSync(caFile, CA);
    const kc = join(dir, "kubelet.conf");
    writeFileSync(kc, `current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a', certificate-authority: ca.crt}}]\nusers: [{name: u, user: {client-certificate: ${pair}, client-key: kubelet-client-current.pem}}]\n`);
    const target = loadKubeconfig(kc);
    expect(readKubeTls(target)).toEqual({ ca: [CA], cert: `${CERT.trim()}\n${CERT.trim()}`, key: KEY.trim(), serverName: undefined });
    // Rotation replaces the file: the next read sees the new pair.
    const rotated = CERT.replace("Q0VSVA==", "TkVX");
    writeFileSync(pair, rotated + KEY);
    expect(readKubeTls(target).cert).toBe(rotated.trim());
  });

  test("a pair file missing for an instant (the rotation's unlink and rename) is waited for; gone for good is named", () => {
    const target = parseKubeconfig(`current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {client-certificate: late.pem, client-key: late.pem}}]\n`, join(dir, "k.conf"));
    let waits = 0;
    const tls = readKubeTls(target, () => {
      if (++waits === 2) writeFileSync(join(dir, "late.pem"), CERT + KEY);
    });
    expect(tls.key).toBe(KEY.trim());
    const gone = parseKubeconfig(`current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {client-certificate: never.pem, client-key: never.pem}}]\n`, join(dir, "k.conf"));
    expect(refusal(() => readKubeTls(gone, () => {}))).toContain(`cannot read the client certificate ${join(dir, "never.pem")} (ENOENT)`);
  });

  test("a key file without a key, or a certificate file without a certificate, is named", () => {
    const target = parseKubeconfig(`current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {client-certificate-data: ${b64(CERT)}, client-key-data: ${b64(CERT)}}}]\n`, "/k.conf");
    expect(refusal(() => readKubeTls(target))).toContain("the client key holds no PEM private key");
    expect(refusal(() => loadKubeconfig(join(dir, "missing.conf")))).toContain("cannot read it (ENOENT)");
  });

  test("pemBlocks picks blocks by type", () => {
    expect(pemBlocks(CERT + KEY, /PRIVATE KEY/)).toEqual([KEY.trim()]);
    expect(pemBlocks(CERT + KEY, /CERTIFICATE/)).toEqual([CERT.trim()]);
  });
});
