/**
 * Wire format of the emulator, written the way Go's encoding/json writes Vault's structs:
 * struct fields in declaration order, map keys sorted, HTML-safe string escaping,
 * `json.Encoder` bodies end with "\n" (json.Marshal ones, used for wrapped responses, do not).
 */
import { multiError } from "./gotext.ts";

/** A Go struct: fields are written in this order; `undefined` values are omitted (omitempty). */
export class GoStruct {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

function marshalString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || ch === "<" || ch === ">" || ch === "&" || cp === 0x2028 || cp === 0x2029) {
      out += "\\u" + cp.toString(16).padStart(4, "0");
    } else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else out += ch;
  }
  return out + '"';
}

/** json.Marshal. Plain objects are Go maps (sorted keys); GoStruct keeps its order. */
export function goMarshal(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return marshalString(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) return "[" + v.map(goMarshal).join(",") + "]";
  if (v instanceof GoStruct) {
    const parts = v.fields.filter(([, val]) => val !== undefined).map(([k, val]) => `${marshalString(k)}:${goMarshal(val)}`);
    return "{" + parts.join(",") + "}";
  }
  if (typeof v === "object") {
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return "{" + keys.map((k) => `${marshalString(k)}:${goMarshal(obj[k])}`).join(",") + "}";
  }
  return "null";
}

/** The `auth` block of a response (HTTPAuth). */
export interface AuthInfo {
  clientToken: string;
  accessor: string;
  policies: string[];
  tokenPolicies: string[];
  identityPolicies?: string[];
  metadata: Record<string, string> | null;
  leaseDuration: number;
  renewable: boolean;
  entityId: string;
  tokenType: string;
  orphan: boolean;
  numUses: number;
}

/** The `wrap_info` block (HTTPWrapInfo); there is no `format` field on the wire. */
export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creationTime: string;
  creationPath: string;
  wrappedAccessor?: string;
}

/** A logical response before it becomes HTTP. */
export interface LogicalResponse {
  data?: Record<string, unknown> | null;
  auth?: AuthInfo | null;
  warnings?: string[];
  wrapInfo?: WrapInfo | null;
  /**
   * sys/ endpoints answered through Vault's HTTPSysInjector also carry their data keys at
   * the top level (before `request_id`); only sys/capabilities-self uses it here.
   */
  injectTopLevel?: boolean;
}

export function authStruct(a: AuthInfo): GoStruct {
  return new GoStruct([
    ["client_token", a.clientToken], ["accessor", a.accessor], ["policies", a.policies],
    ["token_policies", a.tokenPolicies.length > 0 ? a.tokenPolicies : undefined],
    ["identity_policies", a.identityPolicies && a.identityPolicies.length > 0 ? a.identityPolicies : undefined],
    ["metadata", a.metadata], ["lease_duration", Math.trunc(a.leaseDuration)], ["renewable", a.renewable],
    ["entity_id", a.entityId], ["token_type", a.tokenType], ["orphan", a.orphan],
    ["mfa_requirement", null], ["num_uses", a.numUses],
  ]);
}

export function wrapStruct(w: WrapInfo): GoStruct {
  return new GoStruct([
    ["token", w.token], ["accessor", w.accessor], ["ttl", Math.trunc(w.ttl)],
    ["creation_time", w.creationTime], ["creation_path", w.creationPath],
    ["wrapped_accessor", w.wrappedAccessor === "" ? undefined : w.wrappedAccessor],
  ]);
}

/**
 * The success envelope (HTTPResponse). `mountType` undefined means the field is absent
 * (Vault < 1.16); `""` / `"token"` / `"system"` are written as given.
 */
export function envelope(requestId: string, r: LogicalResponse, mountType: string | undefined): GoStruct {
  const warnings = r.warnings && r.warnings.length > 0 ? r.warnings : null;
  return new GoStruct([
    ["request_id", requestId], ["lease_id", ""], ["renewable", false], ["lease_duration", 0],
    ["data", r.data ?? null], ["wrap_info", r.wrapInfo ? wrapStruct(r.wrapInfo) : null],
    ["warnings", warnings], ["auth", r.auth ? authStruct(r.auth) : null], ["mount_type", mountType],
  ]);
}

/** `{"errors":[...]}` as written by json.Encoder (with the trailing newline). */
export function errorBody(errors: readonly string[]): string {
  return goMarshal(new GoStruct([["errors", [...errors]]])) + "\n";
}

/** A failed request: HTTP status plus Vault's `errors` list. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(readonly status: number, readonly errors: string[]) {
    super(errors.join("; ") || `HTTP ${status}`);
  }
}

export const badRequest = (msg: string): ApiError => new ApiError(400, [msg]);
export const forbidden = (msg: string): ApiError => new ApiError(403, [msg]);
export const PERMISSION_DENIED_ACL = multiError(["permission denied"]);
export const UNSUPPORTED_PATH = multiError(["unsupported path"]);
export const UNSUPPORTED_OPERATION = multiError(["unsupported operation"]);

/** What a handler returns. `null` = nil response (204 on writes, 404 on reads). */
export type Outcome =
  | { kind: "logical"; resp: LogicalResponse }
  | { kind: "raw"; status: number; body: string }
  | null;

export const logical = (resp: LogicalResponse): Outcome => ({ kind: "logical", resp });

/** The HTTP reply the server writes. */
export interface Reply {
  status: number;
  body: string | null;
  headers: Record<string, string>;
}

export function jsonReply(status: number, body: string | null, headers: Record<string, string> = {}): Reply {
  return { status, body, headers: { "Content-Type": "application/json", ...headers } };
}

export function errorReply(status: number, errors: readonly string[]): Reply {
  return jsonReply(status, errorBody(errors));
}
