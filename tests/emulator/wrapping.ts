/**
 * Response wrapping: the X-Vault-Wrap-TTL header, wrapInCubbyhole, ValidateWrappingToken
 * and the sys/wrapping/{unwrap,lookup,wrap} handlers.
 */
import { isOpenBao, type Ctx, type Route, type VaultVersion } from "./context.ts";
import { parseDurationSecond, rfc3339Nano, subMsNanos } from "./gotext.ts";
import type { EmulatorState, TokenEntry } from "./state.ts";
import { ApiError, badRequest, envelope, forbidden, goMarshal, logical, type LogicalResponse, type Outcome } from "./wire.ts";

export const INVALID_WRAPPING_TOKEN = "wrapping token is not valid or does not exist";

/** requestWrapInfo: the wrap TTL in seconds (0 = none). Throws the 400 Vault answers. */
export function parseWrapTtl(header: string | undefined): number {
  if (header === undefined || header === "") return 0;
  let ttl: number;
  try {
    ttl = parseDurationSecond(header);
  } catch (e) {
    throw badRequest(`error parsing X-Vault-Wrap-TTL header: ${(e as Error).message}`);
  }
  if (ttl < 0) throw badRequest("error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative");
  return ttl;
}

/**
 * ValidateWrappingToken: token from the body's `token` (third party), else from X-Vault-Token.
 * Returns the wrapping token and whether it came from the body.
 */
export function validateWrappingToken(state: EmulatorState, data: Record<string, unknown> | null, clientToken: string):
{ token: TokenEntry; thirdParty: boolean } {
  let id = clientToken;
  let thirdParty = false;
  const raw = data?.["token"];
  if (raw !== undefined && raw !== null) {
    thirdParty = true;
    if (typeof raw !== "string") throw forbidden("error validating wrapping token: could not decode token in request body");
    if (raw === "") throw forbidden("error validating wrapping token: empty token in request body");
    id = raw;
  }
  if (id === "") throw forbidden("error validating wrapping token: token is empty");
  const te = state.get(id);
  if (te === undefined || te.policies.length !== 1 || te.policies[0] !== "response-wrapping") {
    throw badRequest(INVALID_WRAPPING_TOKEN);
  }
  return { token: te, thirdParty };
}

/** mount_type value for a response, or undefined on versions without the field. */
export function mountTypeFor(version: VaultVersion, value: string): string | undefined {
  // OpenBao forked before Vault 1.16 added the field.
  return version === "1.14.8" || isOpenBao(version) ? undefined : value;
}

/**
 * wrapInCubbyhole: stores the original response (json.Marshal, no newline) under a new
 * single-use `response-wrapping` token and returns the outer response.
 */
export function wrapOutcome(p: { state: EmulatorState; version: VaultVersion; path: string; requestId: string;
  outcome: NonNullable<Outcome>; mountType: string; ttl: number }): LogicalResponse {
  let inner: LogicalResponse;
  if (p.outcome.kind === "raw") {
    inner = { data: {
      http_content_type: "application/json", http_raw_body: Buffer.from(p.outcome.body).toString("base64"),
      http_status_code: p.outcome.status,
    } };
  } else inner = p.outcome.resp;
  const response = goMarshal(envelope(p.requestId, inner, mountTypeFor(p.version, p.mountType)));
  const now = p.state.now();
  const creationTime = rfc3339Nano(now, subMsNanos());
  const te = p.state.insert({
    policies: ["response-wrapping"], path: p.path, displayName: "", orphan: true, ttl: p.ttl, renewable: false,
    numUses: 1, explicitMaxTtl: p.ttl, isWrapping: true,
    wrapped: { response, creationPath: p.path, creationTime, ttl: p.ttl },
  });
  const wrappedAccessor = inner.auth?.accessor;
  return {
    wrapInfo: {
      token: te.id, accessor: te.accessor, ttl: p.ttl, creationTime, creationPath: p.path,
      ...(wrappedAccessor ? { wrappedAccessor } : {}),
    },
  };
}

function wrappingToken(ctx: Ctx): TokenEntry {
  if (ctx.wrappingToken === undefined) throw new ApiError(500, ["internal error"]);
  return ctx.wrappingToken;
}

/** sys/wrapping/unwrap: the stored JSON verbatim; the token is single-use. */
function unwrap(ctx: Ctx): Outcome {
  const wt = wrappingToken(ctx);
  const response = wt.wrapped?.response ?? "";
  ctx.state.revoke(wt.id);
  if (response === "") return null;
  return { kind: "raw", status: 200, body: response };
}

/** sys/wrapping/lookup: creation_path / creation_time / creation_ttl; does not use the token. */
function lookup(ctx: Ctx): Outcome {
  const w = wrappingToken(ctx).wrapped;
  return logical({ data: {
    creation_path: w?.creationPath ?? "", creation_time: w?.creationTime ?? "", creation_ttl: Math.trunc(w?.ttl ?? 0),
  } });
}

/** sys/wrapping/wrap: wraps the request body; refuses to run without a wrap TTL. */
function wrap(ctx: Ctx): Outcome {
  if (ctx.wrapTtl <= 0) throw badRequest("endpoint requires response wrapping to be used");
  return logical({ data: ctx.data ?? {} });
}

export const WRAPPING_ROUTES: Route[] = [
  { pattern: /^sys\/wrapping\/unwrap$/, mount: "system", fields: ["token"], ops: { update: unwrap } },
  { pattern: /^sys\/wrapping\/lookup$/, mount: "system", unauth: true, fields: ["token"], ops: { read: lookup, update: lookup } },
  { pattern: /^sys\/wrapping\/wrap$/, mount: "system", ops: { update: wrap } },
];

/** Paths whose wrapping token is validated before the ACL (handleCancelableRequest). */
export const WRAPPING_VALIDATED = new Set(["sys/wrapping/lookup", "sys/wrapping/unwrap", "sys/wrapping/rewrap"]);
