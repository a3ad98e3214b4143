/**
 * The kubelet's kubeconfig, read the way client-go reads it for our one use:
 * the current context's cluster (server, CA, TLS server name) and user (a
 * client certificate and key, as files or inline `-data`). Relative paths
 * resolve against the kubeconfig's directory. Token, exec and auth-provider
 * users are refused by name: the Node authorizer needs the node's identity,
 * which on every distro we know is the client certificate.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { ConfigError, errorMessage } from "../errors.ts";
import { IDENTITY_ENV } from "../identity/config.ts";

/** PEM text given inline, or a file read at each use (the kubelet rotates its certificate in place). */
export type PemSource = { readonly pem: string } | { readonly file: string };

/** Where the kubelet's API server is and how the kubelet proves who it is. */
export interface KubeTarget {
  readonly kubeconfig: string;
  /** `https://host:port`, no trailing slash. */
  readonly server: string;
  /** `undefined` = the system CA store. */
  readonly ca: PemSource | undefined;
  readonly tlsServerName: string | undefined;
  readonly clientCert: PemSource;
  readonly clientKey: PemSource;
}

/** PEM texts ready for fetch's `tls`. */
export interface KubeTls {
  readonly ca: string[] | undefined;
  readonly cert: string;
  readonly key: string;
  readonly serverName: string | undefined;
}

type Named<T> = { name?: unknown } & Record<string, T | unknown>;

function bad(path: string, detail: string): ConfigError {
  return new ConfigError(IDENTITY_ENV.KUBECONFIG, `${path}: ${detail}`);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function findNamed(list: unknown, name: string, key: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const hit = (list as Named<unknown>[]).find((e) => e && typeof e === "object" && e.name === name);
  const inner = hit?.[key];
  return inner && typeof inner === "object" ? (inner as Record<string, unknown>) : undefined;
}

/** `certificate-authority-data` wins over `certificate-authority`, as in client-go. */
function pemField(obj: Record<string, unknown>, field: string, base: string, path: string): PemSource | undefined {
  const data = str(obj[`${field}-data`]);
  if (data !== undefined) {
    const pem = Buffer.from(data, "base64").toString("utf8");
    if (!pem.includes("-----BEGIN ")) throw bad(path, `${field}-data is not base64 of PEM`);
    return { pem };
  }
  const file = str(obj[field]);
  if (file === undefined) return undefined;
  return { file: isAbsolute(file) ? file : join(base, file) };
}

/** Parses the kubeconfig text (YAML or JSON); no file other than the kubeconfig is read here. */
export function parseKubeconfig(text: string, path: string): KubeTarget {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch (err) {
    throw bad(path, `not valid YAML: ${errorMessage(err)}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad(path, "not a kubeconfig (expected a mapping)");
  const kc = doc as Record<string, unknown>;
  const contexts = Array.isArray(kc.contexts) ? (kc.contexts as Named<unknown>[]) : [];
  // Parse by current-context, never by fixed names: kubeadm names them system:node:<name>@kubernetes.
  const contextName = str(kc["current-context"]) ?? (contexts.length === 1 ? str(contexts[0]?.name) : undefined);
  if (contextName === undefined) throw bad(path, "has no current-context");
  const context = findNamed(kc.contexts, contextName, "context");
  if (!context) throw bad(path, `current-context ${JSON.stringify(contextName)} is not among its contexts`);
  const clusterName = str(context.cluster);
  const userName = str(context.user);
  const cluster = clusterName === undefined ? undefined : findNamed(kc.clusters, clusterName, "cluster");
  if (!cluster) throw bad(path, `context ${JSON.stringify(contextName)} names no cluster that the file defines`);
  const user = userName === undefined ? undefined : findNamed(kc.users, userName, "user");
  if (!user) throw bad(path, `context ${JSON.stringify(contextName)} names no user that the file defines`);

  const server = str(cluster.server);
  if (server === undefined) throw bad(path, `cluster ${JSON.stringify(clusterName)} has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw bad(path, `cluster server ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== "https:") throw bad(path, `cluster server ${JSON.stringify(server)} is not https: the node's identity is a client certificate`);
  // A driver that mints credentials must know whom it talks to.
  if (cluster["insecure-skip-tls-verify"] === true) throw bad(path, "insecure-skip-tls-verify is set; the driver never skips verifying the API server");

  const base = dirname(path);
  const clientCert = pemField(user, "client-certificate", base, path);
  const clientKey = pemField(user, "client-key", base, path);
  if (!clientCert || !clientKey) {
    const other = ["token", "tokenFile", "exec", "auth-provider", "username"].find((k) => user[k] !== undefined);
    throw bad(path, `user ${JSON.stringify(userName)} has ${other ? `${other} credentials` : "no client certificate"}; pod identity mode needs the kubelet's client certificate and key (client-certificate[-data], client-key[-data])`);
  }
  return {
    kubeconfig: path,
    server: server.replace(/\/+$/, ""),
    ca: pemField(cluster, "certificate-authority", base, path),
    tlsServerName: str(cluster["tls-server-name"]),
    clientCert,
    clientKey,
  };
}

/** Reads and parses the kubeconfig file. */
export function loadKubeconfig(path: string): KubeTarget {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw bad(path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
  }
  return parseKubeconfig(text, path);
}

/**
 * The rotation store swaps `kubelet-client-current.pem` by removing the link
 * and renaming a new one in: a read can meet ENOENT for an instant.
 */
const ROTATION_RETRIES = 5;
const ROTATION_WAIT_MS = 50;

function readPem(src: PemSource, what: string, path: string, sleep: (ms: number) => void): string {
  if ("pem" in src) return src.pem;
  for (let i = 0; ; i++) {
    try {
      return readFileSync(src.file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
      if (code === "ENOENT" && i < ROTATION_RETRIES) {
        sleep(ROTATION_WAIT_MS);
        continue;
      }
      throw bad(path, `cannot read the ${what} ${src.file} (${code})`);
    }
  }
}

/** Reads the certificate, key and CA now: a rotated certificate is picked up by the next call. */
export function readKubeTls(target: KubeTarget, sleep: (ms: number) => void = Bun.sleepSync): KubeTls {
  const cert = readPem(target.clientCert, "client certificate", target.kubeconfig, sleep);
  const key = readPem(target.clientKey, "client key", target.kubeconfig, sleep);
  // kubelet-client-current.pem holds the chain and the key in one file: split it by block type.
  const certBlocks = pemBlocks(cert, /CERTIFICATE/);
  const keyBlock = pemBlocks(key, /PRIVATE KEY/)[0];
  if (certBlocks.length === 0) throw bad(target.kubeconfig, "the client certificate holds no PEM certificate");
  if (keyBlock === undefined) throw bad(target.kubeconfig, "the client key holds no PEM private key");
  const ca = target.ca ? readPem(target.ca, "certificate authority", target.kubeconfig, sleep) : undefined;
  return { ca: ca === undefined ? undefined : [ca], cert: certBlocks.join("\n"), key: keyBlock, serverName: target.tlsServerName };
}

/** The PEM blocks of `text` whose type matches `type`, each with its BEGIN/END lines. */
export function pemBlocks(text: string, type: RegExp): string[] {
  const blocks: string[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)) {
    if (type.test(m[1] ?? "") && (m[1] ?? "").endsWith(type.source)) blocks.push(m[0]);
  }
  return blocks;
}
