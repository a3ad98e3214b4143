/**
 * mapstructure.WeakDecode, as handleCreateCommon applies it to the raw request body:
 * numbers and bools become strings, "1"/"true" become bools, a single value becomes a list.
 * An undecodable value gives Vault's 400 "Error decoding request: …".
 */
import { goNumberText } from "./gotext.ts";
import { ApiError, badRequest } from "./wire.ts";

function goTypeName(v: unknown): string {
  if (Array.isArray(v)) return "[]interface {}";
  if (v !== null && typeof v === "object") return "map[string]interface {}";
  return typeof v === "number" ? "json.Number" : typeof v;
}

function decodeError(field: string, want: string, v: unknown): ApiError {
  return badRequest(`Error decoding request: 1 error(s) decoding:\n\n* '${field}' expected type '${want}', got unconvertible type '${goTypeName(v)}'`);
}

/** mapstructure.WeakDecode into a string. */
export function wString(field: string, v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number") return goNumberText(v);
  if (typeof v === "boolean") return v ? "1" : "0";
  throw decodeError(field, "string", v);
}

export function wBool(field: string, v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") {
    if (v === "") return false;
    if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
    if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  }
  throw decodeError(field, "bool", v);
}

export function wInt(field: string, v: unknown): number {
  if (v === undefined || v === null || v === "") return 0;
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && /^[+-]?[0-9]+$/.test(v)) return Number(v);
  throw decodeError(field, "int", v);
}

export function wStrings(field: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((x) => wString(field, x));
  return [wString(field, v)];
}

export function wMeta(v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "object" || Array.isArray(v)) throw decodeError("meta", "map[string]string", v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = wString(`meta[${k}]`, val);
  return out;
}
