/**
 * The last line of defence against a secret in a message: every secret this
 * process holds (the node's token, a pod token, a wrapping token, a pod's
 * service-account JWT) is
 * registered here as soon as it is read or received, and every line that
 * leaves the process (the kubelet's JSON, which becomes pod events; the log;
 * an operator command's stderr) goes through `scrub`. Anything shaped like a
 * Vault token or a signed JWT is removed too, so one this process never
 * registered (echoed by a proxy, say) does not get through either.
 */

const held = new Set<string>();

/** Shortest value treated as a secret: shorter ones would redact ordinary words. */
const MIN_SECRET_LENGTH = 8;

/** Vault's token formats: `hvs.`/`hvb.`/`hvr.` (1.10+) and the older (and OpenBao's) `s.`/`b.`/`r.` with 24 characters or more (an OpenBao batch token is ~130, with `-` and `_`). */
/** …and a JWS in compact form (a service-account token): base64url JSON header and payload, then a signature. */
const TOKEN_SHAPE = /\b(?:hv[sbr]\.[A-Za-z0-9_-]{20,}|[sbr]\.[A-Za-z0-9_-]{24,}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)\b/g;

export const REDACTED = "[redacted]";

export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= MIN_SECRET_LENGTH) held.add(value);
}

/** `text` without any registered secret or token-shaped string. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of held) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
  return out.replace(TOKEN_SHAPE, REDACTED);
}

/** For tests: forget what was registered. */
export function forgetSecrets(): void {
  held.clear();
}
