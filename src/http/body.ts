/**
 * Reading a server's answer (Vault's, the API server's) with a ceiling. A
 * token-create or TokenRequest answer is a few KiB and the largest answer the
 * driver reads (`sys/health`, a lookup, a Node object) well under 64 KiB; without a ceiling a broken or hostile server streaming an endless
 * body grows the driver by its bandwidth until the deadline (GiBs in seconds).
 */

/** 1 MiB: two orders of magnitude above any answer the driver expects. */
export const MAX_RESPONSE_BYTES = 1 << 20;

export class ResponseTooLargeError extends Error {
  override name = "ResponseTooLargeError";
  constructor(readonly limit: number) {
    super(`response body exceeds ${limit} bytes`);
  }
}

/**
 * The body as text, read chunk by chunk; past `limit` bytes the stream is
 * cancelled (the connection is dropped) and ResponseTooLargeError thrown, so
 * memory never holds more than `limit` plus one chunk.
 */
export async function readBodyCapped(response: Response, limit = MAX_RESPONSE_BYTES): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw new ResponseTooLargeError(limit);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new ResponseTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString("utf8");
}

/**
 * "text/html, 1234 bytes": the content type, only if it looks like one, and
 * the size. What a message may say of a body that is not the server's own
 * error: never the body itself, since a proxy that echoes the request would
 * put a token into a message tenants read as pod events.
 */
export function describeBody(contentType: string | null, text: string): string {
  const type = /^[\w.+-]+\/[\w.+-]+/.exec(contentType ?? "")?.[0];
  return `${type ? `${type}, ` : ""}${Buffer.byteLength(text)} bytes`;
}
