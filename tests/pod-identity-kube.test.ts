/**
 * The driver's API server client (src/kube/*) against the tests' own API
 * server: TLS with the kubelet's client certificate from its kubeconfig, the
 * TokenRequest body and the token's shape, and each refusal the Node
 * authorizer and NodeRestriction make, with their status codes. In process,
 * so coverage sees the client.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadKubeconfig, type KubeTarget } from "../src/kube/kubeconfig.ts";
import { isInformerLag, KubeApiError, KubeNetworkError, readOwnNode, requestPodToken } from "../src/kube/token-request.ts";
import { startKubeApiServer, type KubeApiServer, type NodeCredentials } from "./support/kube-apiserver.ts";
import { testPki } from "./support/world.ts";

let kube: KubeApiServer;
let node1: NodeCredentials;
let target: KubeTarget;
const pod = { namespace: "team-a", name: "web-1", uid: crypto.randomUUID(), serviceAccount: "web", nodeName: "node-1" };

beforeAll(async () => {
  kube = await startKubeApiServer(await testPki());
  node1 = await kube.nodeCredentials("node-1");
  kube.addServiceAccount("team-a", "web");
  kube.addPod(pod);
  target = loadKubeconfig(node1.kubeconfigFile);
}, 30_000);
afterAll(() => kube?.stop());

const decode = (jwt: string) => jwt.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
const noSleep = { sleep: async () => {} };

/** A kubeconfig beside node-1's, pointing at the test API server with the given CA and client pair. */
function writeKubeconfig(name: string, caFile: string, certFile: string, keyFile: string): string {
  const path = join(node1.kubeconfigFile, "..", name);
  writeFileSync(path, `apiVersion: v1
clusters: [{name: c, cluster: {server: "${kube.url}", certificate-authority: "${caFile}"}}]
users: [{name: u, user: {client-certificate: "${certFile}", client-key: "${keyFile}"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  return path;
}

describe("TokenRequest with the kubelet's identity", () => {
  test("a token bound to the pod, of the real service-account shape, for one audience", async () => {
    const before = Math.floor(Date.now() / 1000);
    const sa = await requestPodToken(target, { pod, audience: "vault", expirationSeconds: 600 });
    const [header, claims] = decode(sa.jwt);
    expect(header.alg).toBe("RS256");
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(claims).toMatchObject({
      aud: ["vault"],
      iss: kube.issuer,
      sub: "system:serviceaccount:team-a:web",
      "kubernetes.io": { namespace: "team-a", pod: { name: "web-1", uid: pod.uid }, serviceaccount: { name: "web" }, node: { name: "node-1" } },
    });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp - claims.iat).toBe(600);
    expect(Date.parse(sa.expiresAt) / 1000).toBe(claims.exp);
    // What went over the wire: exactly the TokenRequest a node may send.
    const last = kube.requests.at(-1)!;
    expect(last.user).toBe("system:node:node-1");
    expect(last.body).toEqual({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: ["vault"], expirationSeconds: 600, boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "web-1", uid: pod.uid } },
    });
  });

  test("a pod on another node: 403 from the Node authorizer (no relationship), not retried forever", async () => {
    const other = { ...pod, name: "elsewhere", uid: crypto.randomUUID(), nodeName: "node-2", serviceAccount: "batch" };
    kube.addServiceAccount("team-a", "batch");
    kube.addPod(other);
    let sleeps = 0;
    const err = await requestPodToken(target, { pod: other, audience: "vault", expirationSeconds: 600 }, { sleep: async () => void sleeps++ }).catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.status).toBe(403);
    expect(err.message).toContain(`User "system:node:node-1" cannot create resource "serviceaccounts/token"`);
    expect(err.message).toContain("no relationship found between node 'node-1' and this object");
    // The informer may lag behind the kubelet: retried a few times, then final.
    expect(sleeps).toBe(3);
  });

  test("same service account, pod on another node: NodeRestriction's 403, not retried", async () => {
    const twin = { ...pod, name: "web-2", uid: crypto.randomUUID(), nodeName: "node-2" };
    kube.addPod(twin);
    let sleeps = 0;
    const err = await requestPodToken(target, { pod: twin, audience: "vault", expirationSeconds: 600 }, { sleep: async () => void sleeps++ }).catch((e) => e);
    expect(err.status).toBe(403);
    expect(err.message).toContain(`serviceaccounts "web" is forbidden: node requested token bound to a pod scheduled on a different node`);
    expect(sleeps).toBe(0);
  });

  test("a UID that does not match the pod in record: 403 (NodeRestriction), the pod was recreated", async () => {
    const err = await requestPodToken(target, { pod: { ...pod, uid: crypto.randomUUID() }, audience: "vault", expirationSeconds: 600 }, noSleep).catch((e) => e);
    expect(err.status).toBe(403);
    expect(err.message).toContain("does not match the UID in record. The object might have been deleted and then recreated");
    expect(isInformerLag(err)).toBe(false);
  });

  test("a pod the API server does not know yet: 404, retried until it appears (informer lag)", async () => {
    const late = { ...pod, name: "late", uid: crypto.randomUUID() };
    let sleeps = 0;
    const sa = await requestPodToken(target, { pod: late, audience: "vault", expirationSeconds: 600 }, {
      sleep: async () => {
        if (++sleeps === 2) kube.addPod(late);
      },
    });
    expect(decode(sa.jwt)[1]["kubernetes.io"].pod.uid).toBe(late.uid);
    expect(kube.requests.filter((r) => r.path.endsWith("/web/token") && r.status === 404).length).toBeGreaterThanOrEqual(1);
  });

  test("a cluster that restricts node audiences: the refusal says which grant fixes it", async () => {
    kube.faults.audienceRestriction = true;
    try {
      const err = await requestPodToken(target, { pod, audience: "vault", expirationSeconds: 600 }, noSleep).catch((e) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect(err.status).toBe(403);
      expect(err.message).toBe(`Kubernetes API TokenRequest for service account team-a/web bound to pod web-1: 403 Forbidden: serviceaccounts "web" is forbidden: audience "vault" not found in pod spec volume, system:node:node-1 is not authorized to request tokens for this audience; let nodes request this audience: kubectl apply -f deploy/pod-identity-rbac.yaml (README "Pod identity mode")`);
    } finally {
      kube.faults.audienceRestriction = false;
    }
  });

  test("TokenRequest's own limits come back as the API server says them (422 below 10 minutes)", async () => {
    const err = await requestPodToken(target, { pod, audience: "vault", expirationSeconds: 300 }, noSleep).catch((e) => e);
    expect(err.status).toBe(422);
    expect(err.message).toContain("may not specify a duration less than 10 minutes");
  });

  test("a node reads its own Node object and no other", async () => {
    expect(await readOwnNode(target, "node-1")).toEqual({ name: "node-1" });
    const err = await readOwnNode(target, "node-2").catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.status).toBe(403);
  });

  test("an API server whose certificate the kubeconfig's CA does not vouch for is refused", async () => {
    const pki = await testPki();
    const kc = writeKubeconfig("wrong-ca.conf", pki.otherCaFile, node1.pairFile, node1.pairFile);
    const err = await requestPodToken(loadKubeconfig(kc), { pod, audience: "vault", expirationSeconds: 600 }, noSleep).catch((e) => e);
    expect(err).toBeInstanceOf(KubeNetworkError);
    expect(err.message).toContain(kc);
  });

  test("a certificate that is not a node's gets no token", async () => {
    const pki = await testPki();
    const kc = writeKubeconfig("not-a-node.conf", pki.caFile, pki.clientCertFile, pki.clientKeyFile);
    const err = await requestPodToken(loadKubeconfig(kc), { pod, audience: "vault", expirationSeconds: 600 }, noSleep).catch((e) => e);
    expect(err.status).toBe(403);
    expect(err.message).toContain("no relationship found between node ''");
  });
});

describe("a broken or hostile server at the kubeconfig's address", () => {
  const JWT_LIKE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2RlIn0.c2lnbmF0dXJl";
  let server: ReturnType<typeof Bun.serve>;
  let hostile: KubeTarget;
  beforeAll(async () => {
    const pki = await testPki();
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: pki.serverCert, key: pki.serverKey },
      fetch(req) {
        if (new URL(req.url).pathname.endsWith("/token") && req.headers.get("x-test") !== "echo") {
          // An endless chunked body: without a ceiling the driver would grow by the link's bandwidth.
          const chunk = new Uint8Array(64 * 1024).fill(0x61);
          return new Response(new ReadableStream({ pull: (c) => c.enqueue(chunk) }), { headers: { "content-type": "application/json" } });
        }
        // A proxy's error page that echoes the request's credentials.
        return new Response(`<html>502 Bad Gateway; request headers: Authorization: Bearer ${JWT_LIKE}</html>`, { status: 502, headers: { "content-type": "text/html" } });
      },
    });
    // The node's own kubeconfig (CA, client pair), pointed at this server instead.
    hostile = { ...target, server: `https://127.0.0.1:${server.port}` };
  });
  afterAll(() => server?.stop(true));

  test("an endless body is cut at the ceiling: a clear failure in well under the deadline, memory bounded", async () => {
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    const err = await requestPodToken(hostile, { pod, audience: "vault", expirationSeconds: 600 }).catch((e) => e);
    expect(err).toBeInstanceOf(KubeNetworkError);
    expect(err.message).toContain("exceeds 262144 bytes, which no API server answer does");
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  test("an error page that is not a metav1.Status is described, never quoted: what it echoed stays out of the pod's events", async () => {
    const err = await readOwnNode(hostile, "node-1").catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.status).toBe(502);
    expect(err.message).toContain("not an answer from the API server (text/html,");
    expect(err.message).not.toContain(JWT_LIKE);
    expect(err.message).not.toContain("Bearer");
  });
});
