import { DriverError } from "../errors.ts";

/** Base of every failure talking to Vault. Messages carry method and path, never a token. */
export class VaultError extends DriverError {
  override name = "VaultError";
  constructor(
    readonly method: string,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Vault ${method} ${path}: ${detail}`, options);
  }
}

/** Vault answered with an HTTP error; `errors` is Vault's own `errors[]` text. */
export class VaultResponseError extends VaultError {
  override name = "VaultResponseError";
  constructor(
    method: string,
    path: string,
    readonly status: number,
    readonly errors: readonly string[],
    /** true when the body was not Vault's JSON error envelope (a proxy page, say). */
    readonly raw: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(method, path, `${status} ${errors.map(flattenGoMultiError).join("; ") || "(no error text)"}`);
  }
}

/** The connection failed: refused, reset, DNS, or dropped mid-response. Retried. */
export class VaultNetworkError extends VaultError {
  override name = "VaultNetworkError";
  constructor(method: string, path: string, readonly code: string, cause: unknown) {
    super(method, path, `cannot reach Vault (${code})`, { cause });
  }
}

/** Certificate or handshake failure. Never retried: the node's trust settings must change. */
export class VaultTlsError extends VaultError {
  override name = "VaultTlsError";
  constructor(method: string, path: string, readonly code: string, cause: unknown) {
    super(method, path, `TLS failure (${code}); check VAULT_CACERT/VAULT_CAPATH, VAULT_TLS_SERVER_NAME and the client certificate`, { cause });
  }
}

/** The answer's body passed the client's ceiling (see vault/body.ts); the connection was dropped. */
export class VaultResponseTooLargeError extends VaultError {
  override name = "VaultResponseTooLargeError";
  constructor(method: string, path: string, readonly limit: number) {
    super(method, path, `the response body exceeds ${limit / 1024} KiB, far more than Vault sends; check that VAULT_ADDR points at Vault and not at another service or a proxy`);
  }
}

/** The call's deadline (`VAULT_CLIENT_TIMEOUT`, retries included) passed. */
export class VaultTimeoutError extends VaultError {
  override name = "VaultTimeoutError";
  constructor(method: string, path: string, timeoutMs: number) {
    super(method, path, `no answer within ${timeoutMs / 1000}s (VAULT_CLIENT_TIMEOUT)`);
  }
}

/** The command was interrupted (SIGTERM/SIGINT) while waiting for Vault. */
export class VaultInterruptedError extends VaultError {
  override name = "VaultInterruptedError";
  constructor(method: string, path: string, reason: unknown) {
    super(method, path, `interrupted (${reason instanceof Error ? reason.message : "signal"})`);
  }
}

export function isVaultStatus(err: unknown, status: number): err is VaultResponseError {
  return err instanceof VaultResponseError && err.status === status;
}

/** go-multierror's "1 error occurred:\n\t* a\n\n" → "a" (two errors → "a; b"). */
export function flattenGoMultiError(text: string): string {
  const m = /^\d+ errors? occurred:\n((?:\t\* .*\n?)+)/.exec(text);
  if (!m?.[1]) return text.trim();
  return m[1].split("\n").filter((l) => l.startsWith("\t* ")).map((l) => l.slice(3)).join("; ");
}
