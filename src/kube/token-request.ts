/**
 * The API server calls of pod identity mode, made with the kubelet's client
 * certificate: TokenRequest for a pod's service account, bound to the pod,
 * and a read of the node's own Node object (doctor: "does the API server
 * know us as this node?"). The token is returned, never logged; error
 * messages carry the API server's own `metav1.Status` text, which holds no token.
 */
import { DriverError } from "../errors.ts";
import { describeBody, readBodyCapped, ResponseTooLargeError } from "../http/body.ts";
import { registerSecret } from "../log/scrub.ts";
import type { PodIdentity } from "../flex/options.ts";
import { readKubeTls, type KubeTarget } from "./kubeconfig.ts";

/** A service-account JWT bound to one pod. A secret: it goes to Vault and nowhere else. */
export interface ServiceAccountToken {
  readonly jwt: string;
  /** From `status.expirationTimestamp`: the server may shorten the lifetime with only a Warning header. */
  readonly expiresAt: string;
}

/** The API server answered with an error status; `message` is its `metav1.Status` message. */
export class KubeApiError extends DriverError {
  override name = "KubeApiError";
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly apiMessage: string,
    /** The call, for messages: "TokenRequest for service account ns/sa bound to pod p". */
    readonly what: string,
  ) {
    super(`Kubernetes API ${what}: ${status} ${reason ? `${reason}: ` : ""}${apiMessage}`);
  }
}

/** The API server could not be reached, or its certificate was not trusted. */
export class KubeNetworkError extends DriverError {
  override name = "KubeNetworkError";
}

export interface KubeDeps {
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Per-request deadline. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** A TokenRequest or Node answer is a few KiB; a body past this is not one. */
export const MAX_KUBE_RESPONSE_BYTES = 256 * 1024;
/**
 * The Node authorizer's graph and NodeRestriction's pod cache follow the pod
 * informer: a pod the kubelet just got can be unknown to them for a moment.
 * Those two answers are retried briefly; every other refusal is final.
 */
const LAG_RETRIES = 3;
const LAG_WAIT_MS = 1_000;

/**
 * Kubernetes ≥ 1.33 (ServiceAccountNodeAudienceRestriction) refuses a node an
 * audience its pod does not declare; a FlexVolume declares none, so say which
 * grant fixes it.
 */
function withAudienceHint(err: unknown): unknown {
  if (!(err instanceof KubeApiError) || err.status !== 403 || !err.apiMessage.includes("not found in pod spec volume")) return err;
  return new KubeApiError(err.status, err.reason, `${err.apiMessage}; let nodes request this audience: kubectl apply -f deploy/pod-identity-rbac.yaml (README "Pod identity mode")`, err.what);
}

export function isInformerLag(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  return (err.status === 403 && err.apiMessage.includes("no relationship found between node")) || (err.status === 404 && /^pods ".*" not found$/.test(err.apiMessage));
}

async function kubeCall(target: KubeTarget, method: "GET" | "POST", path: string, body: unknown, what: string, deps: KubeDeps): Promise<unknown> {
  const tls = readKubeTls(target);
  const timeout = AbortSignal.timeout(deps.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = deps.signal ? AbortSignal.any([timeout, deps.signal]) : timeout;
  let response: Response;
  try {
    response = await (deps.fetch ?? fetch)(`${target.server}${path}`, {
      method,
      headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      redirect: "manual",
      signal,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED in the kubelet's environment cannot turn verification off.
      tls: { ...(tls.ca ? { ca: tls.ca } : {}), cert: tls.cert, key: tls.key, ...(tls.serverName ? { serverName: tls.serverName } : {}), rejectUnauthorized: true },
    } as RequestInit);
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).name ?? "error";
    throw new KubeNetworkError(`Kubernetes API ${what}: cannot reach ${target.server} (${signal.aborted ? "timed out" : code}); check the server and CA in ${target.kubeconfig}`);
  }
  let text: string;
  try {
    text = await readBodyCapped(response, MAX_KUBE_RESPONSE_BYTES);
  } catch (err) {
    if (err instanceof ResponseTooLargeError) throw new KubeNetworkError(`Kubernetes API ${what}: the answer of ${target.server} exceeds ${err.limit} bytes, which no API server answer does; check the server in ${target.kubeconfig}`);
    const code = (err as { code?: string }).code ?? (err as Error).name ?? "error";
    throw new KubeNetworkError(`Kubernetes API ${what}: the answer of ${target.server} was cut off (${signal.aborted ? "timed out" : code})`);
  }
  let json: unknown;
  try {
    json = text.trim() === "" ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (response.status < 200 || response.status > 299) {
    // Only a metav1.Status message is quoted: any other body (a proxy's page that may echo the
    // request and its credentials) is described, never copied into a pod's events.
    const status = (json ?? {}) as { kind?: unknown; message?: unknown; reason?: unknown };
    const apiStatus = status.kind === "Status" && typeof status.message === "string";
    const message = apiStatus ? (status.message as string).slice(0, 1024) : `not an answer from the API server (${describeBody(response.headers.get("content-type"), text)}); check the server in ${target.kubeconfig} and any proxy in between`;
    throw new KubeApiError(response.status, apiStatus && typeof status.reason === "string" ? status.reason : "", message, what);
  }
  return json;
}

/**
 * POST /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token, bound to the pod
 * by name and UID (a node may ask only for tokens bound to its own pods; the
 * UID is required for nodes). Never falls back to an unbound token.
 */
export async function requestPodToken(
  target: KubeTarget,
  req: { readonly pod: PodIdentity; readonly audience: string; readonly expirationSeconds: number },
  deps: KubeDeps = {},
): Promise<ServiceAccountToken> {
  const { pod } = req;
  const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/serviceaccounts/${encodeURIComponent(pod.serviceAccount)}/token`;
  const body = {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: {
      audiences: [req.audience],
      expirationSeconds: req.expirationSeconds,
      boundObjectRef: { kind: "Pod", apiVersion: "v1", name: pod.name, uid: pod.uid },
    },
  };
  const what = `TokenRequest for service account ${pod.namespace}/${pod.serviceAccount} bound to pod ${pod.name}`;
  const sleep = deps.sleep ?? Bun.sleep;
  for (let i = 0; ; i++) {
    try {
      const json = (await kubeCall(target, "POST", path, body, what, deps)) as { status?: { token?: unknown; expirationTimestamp?: unknown } } | null;
      const token = json?.status?.token;
      if (typeof token !== "string" || token.split(".").length !== 3) throw new DriverError(`Kubernetes API ${what}: the response holds no token`);
      registerSecret(token);
      const expiresAt = typeof json?.status?.expirationTimestamp === "string" ? json.status.expirationTimestamp : "";
      return { jwt: token, expiresAt };
    } catch (err) {
      if (i < LAG_RETRIES && isInformerLag(err) && !deps.signal?.aborted) {
        await sleep(LAG_WAIT_MS);
        continue;
      }
      throw withAudienceHint(err);
    }
  }
}

/** GET /api/v1/nodes/<node>: the Node authorizer lets a node read its own Node object and no other. */
export async function readOwnNode(target: KubeTarget, nodeName: string, deps: KubeDeps = {}): Promise<{ readonly name: string }> {
  const json = (await kubeCall(target, "GET", `/api/v1/nodes/${encodeURIComponent(nodeName)}`, undefined, `read of node ${nodeName}`, deps)) as { metadata?: { name?: unknown } } | null;
  return { name: typeof json?.metadata?.name === "string" ? json.metadata.name : nodeName };
}
