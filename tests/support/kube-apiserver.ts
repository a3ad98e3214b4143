/**
 * A small Kubernetes API server of the tests' own, for pod identity mode:
 * TLS with the test PKI, client-certificate authentication (CN
 * `system:node:<n>`, O `system:nodes`, like a kubelet's), and the endpoints
 * the driver and Vault's `kubernetes` auth method call:
 *
 *   POST /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token   TokenRequest
 *   POST /apis/authentication.k8s.io/v1/tokenreviews          TokenReview
 *   GET  /api/v1/nodes/<name>                                 a node reads itself
 *
 * TokenRequest refuses as the Node authorizer, NodeRestriction admission and
 * TokenREST do, in their order and with their status codes and messages
 * (shared/specs/pod-identity.md §1–2), and signs an RS256 JWT of the real
 * service-account token shape with a key made here by WebCrypto.
 *
 * Built on node:tls with a minimal HTTP/1.1 reader, because Bun's HTTP
 * servers do not expose the client certificate. One request per connection.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createServer, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestPki } from "./certs.ts";

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccount: string;
  /** `spec.nodeName`; the Node authorizer links a pod's SA to its node only once it is set. */
  readonly nodeName: string;
}

/** What the kubelet of one node holds: its kubeconfig and the files it names. */
export interface NodeCredentials {
  readonly nodeName: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate and key in one file, like /var/lib/kubelet/pki/kubelet-client-current.pem. */
  readonly pairFile: string;
  readonly cert: string;
  readonly key: string;
  /** A kubeconfig shaped like kubeadm's, pointing at this server with `pairFile` and the CA as files. */
  readonly kubeconfigFile: string;
}

export interface TokenRequestRecord {
  readonly user: string;
  readonly path: string;
  readonly status: number;
  readonly body: unknown;
}

export interface KubeApiServer {
  readonly url: string;
  readonly issuer: string;
  /** PEM (SPKI) of the service-account signing key, for Vault's jwt method `jwt_validation_pubkeys`. */
  readonly publicKeyPem: string;
  readonly requests: TokenRequestRecord[];
  /** Every service-account JWT TokenRequest handed out: secrets the tests look for where they must not be. */
  readonly issued: string[];
  /** Test switches: how the next tokens are made. */
  readonly faults: { expired: boolean; audience: string | undefined; audienceRestriction: boolean };
  addServiceAccount(namespace: string, name: string): string;
  addPod(pod: Pod): void;
  deletePod(namespace: string, name: string): void;
  /** Client certificate + kubeconfig for a node (cached per name). */
  nodeCredentials(nodeName: string): Promise<NodeCredentials>;
  /** A service-account JWT for `namespace/sa` with no pod binding (TokenReview's reviewer). */
  reviewerToken(namespace: string, sa: string): Promise<string>;
  stop(): Promise<void>;
}

const b64url = (data: ArrayBuffer | Uint8Array | string) => Buffer.from(typeof data === "string" ? Buffer.from(data) : new Uint8Array(data as ArrayBuffer)).toString("base64url");

function statusBody(code: number, reason: string, message: string, details?: Record<string, string>) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

async function run(cmd: string[], cwd: string): Promise<void> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd[0]} ${cmd[1]} failed: ${err}`);
}

export async function startKubeApiServer(pki: TestPki, opts: { issuer?: string } = {}): Promise<KubeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), "vaulttmpfs-kube-"));
  const keyPair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
  const publicKeyPem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(spki).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`;
  // kid = base64url(SHA-256(PKIX DER)), as the API server computes it.
  const kid = b64url(await crypto.subtle.digest("SHA-256", spki));
  const issuer = opts.issuer ?? "https://kubernetes.default.svc.cluster.local";

  const serviceAccounts = new Map<string, string>();
  const pods = new Map<string, Pod>();
  const requests: TokenRequestRecord[] = [];
  const issued: string[] = [];
  const faults: KubeApiServer["faults"] = { expired: false, audience: undefined, audienceRestriction: false };
  const nodeUids = new Map<string, string>();

  async function sign(claims: Record<string, unknown>): Promise<string> {
    const head = b64url(JSON.stringify({ alg: "RS256", kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", keyPair.privateKey, new TextEncoder().encode(`${head}.${body}`));
    return `${head}.${body}.${b64url(sig)}`;
  }

  async function verify(jwt: string): Promise<Record<string, any> | undefined> {
    const [head, body, sig] = jwt.split(".");
    if (!head || !body || !sig) return undefined;
    const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", keyPair.publicKey, Buffer.from(sig, "base64url"), new TextEncoder().encode(`${head}.${body}`));
    return ok ? JSON.parse(Buffer.from(body, "base64url").toString()) : undefined;
  }

  async function tokenRequest(user: string, node: string | undefined, ns: string, sa: string, body: any): Promise<[number, unknown]> {
    const forbidden = (text: string) => [403, statusBody(403, "Forbidden", `serviceaccounts "${sa}" is forbidden: ${text}`, { name: sa, kind: "serviceaccounts" })] as [number, unknown];
    // Node authorizer: a path node -> pod -> service account must exist (pods with spec.nodeName only).
    const related = node !== undefined && [...pods.values()].some((p) => p.nodeName === node && p.namespace === ns && p.serviceAccount === sa);
    if (!related) {
      return [403, statusBody(403, "Forbidden", `serviceaccounts "${sa}" is forbidden: User "${user}" cannot create resource "serviceaccounts/token" in API group "" in the namespace "${ns}": no relationship found between node '${node ?? ""}' and this object`, { name: sa, kind: "serviceaccounts" })];
    }
    // NodeRestriction admission.
    const spec = body?.spec ?? {};
    const ref = spec.boundObjectRef;
    if (!ref || ref.apiVersion !== "v1" || ref.kind !== "Pod" || !ref.name) return forbidden("node requested token not bound to a pod");
    if (!ref.uid) return forbidden("node requested token with a pod binding without a uid");
    const pod = pods.get(`${ns}/${ref.name}`);
    if (!pod) return [404, statusBody(404, "NotFound", `pods "${ref.name}" not found`, { name: ref.name, kind: "pods" })];
    if (pod.uid !== ref.uid) return forbidden(`the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    if (pod.nodeName !== node) return forbidden("node requested token bound to a pod scheduled on a different node");
    const audiences: string[] = Array.isArray(spec.audiences) ? spec.audiences : [];
    if (audiences.length > 1) return forbidden("node may only request 0 or 1 audiences");
    // ServiceAccountNodeAudienceRestriction (1.33+) without a grant: the audience must be in the pod spec.
    if (faults.audienceRestriction && audiences[0] !== undefined) return forbidden(`audience "${audiences[0]}" not found in pod spec volume, ${user} is not authorized to request tokens for this audience`);
    // TokenREST.
    const saUid = serviceAccounts.get(`${ns}/${sa}`);
    if (!saUid) return [404, statusBody(404, "NotFound", `serviceaccounts "${sa}" not found`, { name: sa, kind: "serviceaccounts" })];
    const exp = spec.expirationSeconds ?? 3600;
    if (exp < 600) return [422, statusBody(422, "Invalid", `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: ${exp}: may not specify a duration less than 10 minutes`)];
    if (pod.serviceAccount !== sa) return [400, statusBody(400, "BadRequest", `cannot bind token for serviceaccount "${sa}" to pod running with different serviceaccount name.`)];
    const now = Math.floor(Date.now() / 1000);
    const iat = faults.expired ? now - 2 * exp : now;
    const claims = {
      aud: [faults.audience ?? audiences[0] ?? "https://kubernetes.default.svc.cluster.local"],
      exp: iat + exp,
      iat,
      nbf: iat,
      iss: issuer,
      jti: crypto.randomUUID(),
      sub: `system:serviceaccount:${ns}:${sa}`,
      "kubernetes.io": {
        namespace: ns,
        node: { name: node, uid: nodeUids.get(node!) },
        pod: { name: pod.name, uid: pod.uid },
        serviceaccount: { name: sa, uid: saUid },
      },
    };
    const token = await sign(claims);
    issued.push(token);
    return [201, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", metadata: { name: sa, namespace: ns }, spec: { ...spec, audiences: claims.aud, expirationSeconds: exp }, status: { token, expirationTimestamp: new Date((iat + exp) * 1000).toISOString().replace(/\.\d+Z$/, "Z") } }];
  }

  /** TokenReview as the API server's service-account authenticator does it (signature, time, audience, bound pod, SA). */
  async function tokenReview(bearer: string | undefined, body: any): Promise<[number, unknown]> {
    const reviewer = bearer ? await verify(bearer) : undefined;
    if (!reviewer) return [401, statusBody(401, "Unauthorized", "Unauthorized")];
    const token: string = body?.spec?.token ?? "";
    const wanted: string[] = body?.spec?.audiences ?? [];
    const deny = (error: string) => [201, { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: body.spec, status: { authenticated: false, error } }] as [number, unknown];
    const claims = await verify(token);
    if (!claims) return deny("invalid bearer token, square/go-jose: error in cryptographic primitive");
    const now = Math.floor(Date.now() / 1000);
    if (claims.exp < now) return deny("service account token has expired");
    const aud: string[] = claims.aud ?? [];
    const common = wanted.length === 0 ? aud : aud.filter((a) => wanted.includes(a));
    if (common.length === 0) return deny(`token audiences ${JSON.stringify(aud)} is invalid for the target audiences ${JSON.stringify(wanted)}`);
    const k = claims["kubernetes.io"] ?? {};
    if (serviceAccounts.get(`${k.namespace}/${k.serviceaccount?.name}`) !== k.serviceaccount?.uid) return deny("service account token has been invalidated");
    if (k.pod) {
      const pod = pods.get(`${k.namespace}/${k.pod.name}`);
      if (!pod || pod.uid !== k.pod.uid) return deny("service account token has been invalidated");
    }
    const extra: Record<string, string[]> = k.pod ? { "authentication.kubernetes.io/pod-name": [k.pod.name], "authentication.kubernetes.io/pod-uid": [k.pod.uid] } : {};
    return [201, {
      apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: body.spec,
      status: {
        authenticated: true,
        user: { username: claims.sub, uid: k.serviceaccount.uid, groups: ["system:serviceaccounts", `system:serviceaccounts:${k.namespace}`, "system:authenticated"], extra },
        audiences: common,
      },
    }];
  }

  async function handle(sock: TLSSocket, method: string, path: string, headers: Record<string, string>, raw: string): Promise<[number, unknown]> {
    const cert = sock.authorized ? sock.getPeerCertificate() : undefined;
    const cn = cert && typeof cert.subject?.CN === "string" ? cert.subject.CN : undefined;
    const org = cert?.subject?.O;
    // Node identity = CN system:node:<n> in group (O) system:nodes; any other certificate is an ordinary user.
    const isNode = cn !== undefined && /^system:node:/.test(cn) && (org === "system:nodes" || (Array.isArray(org) && org.includes("system:nodes")));
    const user = cn;
    const node = isNode ? cn.slice("system:node:".length) : undefined;
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return [400, statusBody(400, "BadRequest", "the body of the request was in an unknown format")];
    }
    const auth = headers.authorization?.replace(/^Bearer /, "");
    if (method === "POST" && path === "/apis/authentication.k8s.io/v1/tokenreviews") return tokenReview(auth, body);
    if (!user) return [401, statusBody(401, "Unauthorized", "Unauthorized")];
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/.exec(path);
    if (method === "POST" && m) {
      const [status, out] = await tokenRequest(user, node, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), body);
      requests.push({ user, path, status, body });
      return [status, out];
    }
    m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (method === "GET" && m) {
      const name = decodeURIComponent(m[1]!);
      if (node !== name) return [403, statusBody(403, "Forbidden", `nodes "${name}" is forbidden: User "${user}" cannot get resource "nodes" in API group "" at the cluster scope: node '${node ?? ""}' cannot read '${name}', only its own Node object`)];
      return [200, { kind: "Node", apiVersion: "v1", metadata: { name, uid: nodeUids.get(name) ?? crypto.randomUUID() } }];
    }
    return [404, statusBody(404, "NotFound", "the server could not find the requested resource")];
  }

  const server = createServer({ cert: pki.serverCert, key: pki.serverKey, ca: [pki.ca], requestCert: true, rejectUnauthorized: false }, (sock) => {
    let buf = Buffer.alloc(0);
    let done = false;
    sock.on("error", () => {});
    sock.on("data", async (chunk: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1").split("\r\n");
      const [method = "", target = ""] = (head[0] ?? "").split(" ");
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(":");
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      if (buf.length < end + 4 + length) return;
      done = true;
      const raw = buf.subarray(end + 4, end + 4 + length).toString("utf8");
      const path = target.split("?")[0] ?? "";
      let status: number;
      let out: unknown;
      try {
        [status, out] = await handle(sock, method, path, headers, raw);
      } catch (err) {
        [status, out] = [500, statusBody(500, "InternalError", String(err))];
      }
      const text = JSON.stringify(out);
      sock.end(`HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;

  const creds = new Map<string, Promise<NodeCredentials>>();
  async function makeNode(nodeName: string): Promise<NodeCredentials> {
    const d = join(dir, nodeName);
    await run(["mkdir", "-p", d], dir);
    writeFileSync(join(d, "ext.cnf"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
    await run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", `/O=system:nodes/CN=system:node:${nodeName}`], d);
    await run(["openssl", "x509", "-req", "-in", "client.csr", "-CA", pki.caFile, "-CAkey", pki.caKeyFile, "-CAcreateserial", "-out", "client.crt", "-days", "30", "-extfile", "ext.cnf"], d);
    const cert = readFileSync(join(d, "client.crt"), "utf8");
    const key = readFileSync(join(d, "client.key"), "utf8");
    const pairFile = join(d, "kubelet-client-current.pem");
    writeFileSync(pairFile, cert + key, { mode: 0o600 });
    const kubeconfigFile = join(d, "kubelet.conf");
    writeFileSync(kubeconfigFile, [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- cluster:",
      `    certificate-authority: ${pki.caFile}`,
      `    server: ${url}`,
      "  name: default-cluster",
      "contexts:",
      "- context:",
      "    cluster: default-cluster",
      "    namespace: default",
      "    user: default-auth",
      "  name: default-context",
      "current-context: default-context",
      "preferences: {}",
      "users:",
      "- name: default-auth",
      "  user:",
      `    client-certificate: ${pairFile}`,
      `    client-key: ${pairFile}`,
      "",
    ].join("\n"), { mode: 0o600 });
    nodeUids.set(nodeName, crypto.randomUUID());
    return { nodeName, certFile: join(d, "client.crt"), keyFile: join(d, "client.key"), pairFile, cert, key, kubeconfigFile };
  }

  const addServiceAccount = (namespace: string, name: string): string => {
    const uid = serviceAccounts.get(`${namespace}/${name}`) ?? crypto.randomUUID();
    serviceAccounts.set(`${namespace}/${name}`, uid);
    return uid;
  };
  return {
    url, issuer, publicKeyPem, requests, issued, faults, addServiceAccount,
    addPod(pod) {
      pods.set(`${pod.namespace}/${pod.name}`, pod);
    },
    deletePod(namespace, name) {
      pods.delete(`${namespace}/${name}`);
    },
    nodeCredentials(nodeName) {
      let p = creds.get(nodeName);
      if (!p) creds.set(nodeName, (p = makeNode(nodeName)));
      return p;
    },
    async reviewerToken(namespace, sa) {
      const uid = addServiceAccount(namespace, sa);
      const now = Math.floor(Date.now() / 1000);
      return sign({ aud: ["https://kubernetes.default.svc.cluster.local"], exp: now + 86400, iat: now, nbf: now, iss: issuer, sub: `system:serviceaccount:${namespace}:${sa}`, "kubernetes.io": { namespace, serviceaccount: { name: sa, uid } } });
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
