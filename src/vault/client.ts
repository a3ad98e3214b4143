import type { VaultConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { describeBody, readBodyCapped, ResponseTooLargeError } from "../http/body.ts";
import { VaultInterruptedError, VaultNetworkError, VaultResponseError, VaultResponseTooLargeError, VaultTimeoutError, VaultTlsError } from "./errors.ts";
import { parseRetryAfter, retryDelay, type Outcome } from "./retry.ts";
import { loadTls, type FetchTls } from "./tls.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE" | "LIST";

export interface VaultRequest {
  readonly method: Method;
  /** API path without the `/v1/` prefix, e.g. `auth/token/lookup-self`. */
  readonly path: string;
  readonly token?: string | undefined;
  readonly body?: unknown;
  /** Sent as `X-Vault-Wrap-TTL`. Only the token-create call asks for wrapping. */
  readonly wrapTTL?: string | undefined;
  readonly query?: Readonly<Record<string, string>>;
  /** Default true. A call that creates something is retried only when Vault cannot have acted on it. */
  readonly idempotent?: boolean;
  /** Statuses to hand back as data instead of throwing (sys/health uses 429/472/473/501/503 for state). */
  readonly acceptStatus?: readonly number[];
  /** Send no X-Vault-Namespace: a root-namespace-only endpoint (OpenBao refuses sys/health inside a namespace). */
  readonly rootNamespace?: boolean;
}

export interface VaultResponse<T> {
  readonly status: number;
  /** `null` for 204 and empty bodies. */
  readonly body: T | null;
}

export interface VaultClient {
  send<T = unknown>(request: VaultRequest): Promise<VaultResponse<T>>;
}

export interface ClientDeps {
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
  /** Aborts every call (the driver's SIGTERM); the call fails as a timeout. */
  readonly signal?: AbortSignal;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|EPROTO|HANDSHAKE|SSL|TLS/i;
/** Errors raised before any byte of the request left: Vault saw nothing. */
const CONNECT_CODES = /^(ECONNREFUSED|ConnectionRefused|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ENOENT)$/;
/** The Go client follows these once (not 308). */
const REDIRECTS = new Set([301, 302, 307]);

/**
 * A Vault client on `fetch`, shaped like HashiCorp's `api` package: one
 * config, `X-Vault-Request: true` on every call, one redirect followed,
 * retries per `retryDelay`, one deadline per call covering every retry.
 * The token travels only in `X-Vault-Token`; errors name method and path.
 */
export function createVaultClient(config: VaultConfig, deps: ClientDeps = {}): VaultClient {
  const doFetch = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? abortableSleep;
  const now = deps.now ?? Date.now;
  let tls: FetchTls | undefined;

  async function attempt(url: string, request: VaultRequest, signal: AbortSignal): Promise<Response> {
    tls ??= loadTls(config);
    const headers: Record<string, string> = { "X-Vault-Request": "true" };
    if (request.token !== undefined) headers["X-Vault-Token"] = request.token;
    if (config.namespace && !request.rootNamespace) headers["X-Vault-Namespace"] = config.namespace;
    if (request.wrapTTL) headers["X-Vault-Wrap-TTL"] = request.wrapTTL;
    const init: RequestInit & { tls?: FetchTls; unix?: string } = {
      method: request.method,
      headers,
      redirect: "manual",
      signal,
      tls,
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      ...(config.unixSocket ? { unix: config.unixSocket } : {}),
    };
    let response = await doFetch(url, init);
    const location = response.headers.get("location");
    if (REDIRECTS.has(response.status) && location) {
      // Vault standbys redirect to the active node; like the Go client, follow once, never https → http.
      const target = new URL(location, url);
      if (new URL(url).protocol === "https:" && target.protocol !== "https:") {
        throw new VaultResponseError(request.method, `/v1/${request.path}`, response.status, ["redirect would cause protocol downgrade"], true);
      }
      await response.body?.cancel();
      response = await doFetch(target.toString(), init);
    }
    return response;
  }

  async function send<T>(request: VaultRequest): Promise<VaultResponse<T>> {
    const display = `/v1/${request.path}`;
    const query = request.query ? `?${new URLSearchParams(request.query)}` : "";
    const url = `${config.address}/v1/${request.path}${query}`;
    const deadline = now() + config.timeoutMs;
    const signal = deps.signal ? AbortSignal.any([AbortSignal.timeout(config.timeoutMs), deps.signal]) : AbortSignal.timeout(config.timeoutMs);

    const abortError = () =>
      deps.signal?.aborted ? new VaultInterruptedError(request.method, display, deps.signal.reason) : new VaultTimeoutError(request.method, display, config.timeoutMs);

    for (let i = 0; ; i++) {
      let outcome: Outcome;
      let failure: Error;
      try {
        const response = await attempt(url, request, signal);
        const text = await readBodyCapped(response);
        const ok = (response.status >= 200 && response.status < 400) || request.acceptStatus?.includes(response.status);
        if (ok) return { status: response.status, body: text.trim() === "" ? null : (JSON.parse(text) as T) };
        const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now());
        const error = responseError(request.method, display, response.status, text, response.headers.get("content-type"), retryAfterMs);
        failure = error;
        outcome = { kind: "status", status: response.status, retryAfterMs, fromVault: !error.raw };
      } catch (err) {
        // A bad CA or client-certificate file is the node's config, not the network: no retry.
        if (err instanceof VaultResponseError || err instanceof ConfigError) throw err;
        // Not retried: a server that sends that much once will send it again.
        if (err instanceof ResponseTooLargeError) throw new VaultResponseTooLargeError(request.method, display, err.limit);
        if (signal.aborted) throw abortError();
        const code = errorCode(err);
        const isTls = TLS_CODES.test(code);
        failure = isTls ? new VaultTlsError(request.method, display, code, err) : new VaultNetworkError(request.method, display, code, err);
        outcome = { kind: isTls ? "tls" : CONNECT_CODES.test(code) ? "connect" : "network" };
      }
      const remainingMs = deadline === null ? null : deadline - now();
      const delay = retryDelay({ outcome, attempt: i, maxRetries: config.maxRetries, remainingMs, idempotent: request.idempotent ?? true, ...(deps.random ? { random: deps.random } : {}) });
      if (delay === undefined) throw failure;
      try {
        await sleep(delay, signal);
      } catch {
        throw abortError();
      }
    }
  }

  return { send };
}

function responseError(method: string, path: string, status: number, text: string, contentType: string | null, retryAfterMs: number | undefined): VaultResponseError {
  try {
    const body = JSON.parse(text) as { errors?: unknown; error?: unknown };
    if (Array.isArray(body.errors)) return new VaultResponseError(method, path, status, body.errors.map(String), false, retryAfterMs);
    if (typeof body.error === "string") return new VaultResponseError(method, path, status, [body.error], false, retryAfterMs);
  } catch {
    // not Vault's envelope: keep the raw text below
  }
  // Never the body itself: it is not Vault's, and a proxy that echoes the request would put the
  // generator token into a message tenants read as pod events. Only what kind of body it was.
  return new VaultResponseError(method, path, status, [`not an answer from Vault (${describeBody(contentType, text)}); check VAULT_ADDR and any proxy in between`], true, retryAfterMs);
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  if (typeof e?.code === "string" && e.code) return e.code;
  if (err instanceof SyntaxError) return "invalid JSON response";
  return typeof e?.name === "string" ? e.name : "unknown error";
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
