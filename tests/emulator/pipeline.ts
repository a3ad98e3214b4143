/**
 * The request pipeline, in Vault's order (spec §1.4): build the request (body → 400,
 * wrap TTL → 400), sealed → 503, trailing-slash check, wrapping-token validation,
 * CheckToken (token → 403, ACL → 403), UseToken, routing (404/405), handler,
 * unrecognized-parameter warnings, response wrapping, reply.
 */
import { MOUNTS, isOpenBao, type Ctx, type Op, type Route, type VaultVersion } from "./context.ts";
import { goList, goQuote, multiError, parseGoBool } from "./gotext.ts";
import type { EmulatorState } from "./state.ts";
import { SYS_ROUTES, capabilitiesOf, health } from "./sys-handlers.ts";
import { TOKEN_ROUTES } from "./token-handlers.ts";
import {
  ApiError, PERMISSION_DENIED_ACL, UNSUPPORTED_OPERATION, UNSUPPORTED_PATH, badRequest, envelope, errorReply,
  forbidden, goMarshal, jsonReply, type LogicalResponse, type Outcome, type Reply,
} from "./wire.ts";
import { WRAPPING_ROUTES, WRAPPING_VALIDATED, mountTypeFor, parseWrapTtl, validateWrappingToken, wrapOutcome } from "./wrapping.ts";

export const ROUTES: readonly Route[] = [...TOKEN_ROUTES, ...WRAPPING_ROUTES, ...SYS_ROUTES];

/** An HTTP request as the server received it. */
export interface Incoming {
  method: string;
  pathname: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
}

function operationOf(method: string, query: URLSearchParams): Op | undefined {
  switch (method) {
    case "GET": {
      const list = query.get("list");
      let isList = false;
      if (list !== null && list !== "") {
        try { isList = parseGoBool(list); } catch { throw badRequest(`strconv.ParseBool: parsing ${goQuote(list)}: invalid syntax`); }
      }
      return isList ? "list" : "read";
    }
    case "POST": case "PUT": return "update";
    case "DELETE": return "delete";
    case "LIST": return "list";
    case "HEAD": case "OPTIONS": return "header";
    case "PATCH": return "patch";
    default: return undefined;
  }
}

function queryData(query: URLSearchParams): Record<string, unknown> | null {
  const data: Record<string, unknown> = {};
  for (const key of new Set(query.keys())) {
    if (key === "list") continue;
    const all = query.getAll(key);
    data[key] = all.length === 1 ? all[0] : all;
  }
  return Object.keys(data).length === 0 ? null : data;
}

/** parseJSONRequest / parseFormRequest. */
function parseBody(inc: Incoming, op: Op): Record<string, unknown> | null {
  if (op === "read" || op === "list" || op === "delete") return queryData(inc.query);
  const text = inc.body;
  const head = text.trimStart();
  const ct = (inc.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (ct === "application/x-www-form-urlencoded" && !head.startsWith("{") && !head.startsWith("[")) {
    return queryData(new URLSearchParams(text));
  }
  if (head === "") return null;
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw badRequest("error parsing JSON"); }
  if (v === null) return null;
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest("error parsing JSON");
  return v as Record<string, unknown>;
}

function tokenFrom(headers: Record<string, string>): string {
  const t = headers["x-vault-token"] ?? "";
  if (t !== "") return t;
  const auth = headers["authorization"] ?? "";
  return auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
}

function findRoute(path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (m) return { route, params: { ...(m.groups ?? {}) } };
  }
  return undefined;
}

/** Serializes a success envelope (json.Encoder: trailing newline). */
function serialize(requestId: string, resp: LogicalResponse, mountType: string | undefined): string {
  let json = goMarshal(envelope(requestId, resp, mountType));
  const data = resp.data;
  if (resp.injectTopLevel && data && Object.keys(data).length > 0) {
    const prefix = Object.keys(data).sort().map((k) => `${goMarshal(k)}:${goMarshal(data[k])},`).join("");
    json = "{" + prefix + json.slice(1);
  }
  return json + "\n";
}

/** Handles one request synchronously and returns the reply (faults are applied by the server). */
export function processRequest(state: EmulatorState, version: VaultVersion, inc: Incoming): Reply {
  if (!inc.pathname.startsWith("/v1/")) {
    return { status: 404, body: "404 page not found\n", headers: { "Content-Type": "text/plain; charset=utf-8" } };
  }
  let path: string;
  try { path = decodeURIComponent(inc.pathname.slice(4)); } catch { path = inc.pathname.slice(4); }
  if (path === "sys/health") {
    // OpenBao 2.6.2 serves sys/health in the root namespace only.
    const ns = (inc.headers["x-vault-namespace"] ?? "").replace(/^\/+|\/+$/g, "");
    if (isOpenBao(version) && ns !== "" && ns !== "root") return errorReply(400, ["operation unavailable in namespaces"]);
    return health(state, version, inc.method, inc.query);
  }
  try {
    return dispatch(state, version, inc, path);
  } catch (e) {
    if (e instanceof ApiError) return errorReply(e.status, e.errors);
    console.error("vault emulator: internal error", e);
    return errorReply(500, [`vault emulator internal error: ${(e as Error).message}`]);
  }
}

function dispatch(state: EmulatorState, version: VaultVersion, inc: Incoming, path: string): Reply {
  let op = operationOf(inc.method, inc.query);
  if (op === undefined) return errorReply(405, []);
  const data = parseBody(inc, op);
  const wrapTtl = parseWrapTtl(inc.headers["x-vault-wrap-ttl"]);
  if (state.sealed) throw new ApiError(503, ["Vault is sealed"]);
  if ((op === "update" || op === "create") && path.endsWith("/")) throw badRequest("cannot write to a path ending in '/'");
  const clientToken = tokenFrom(inc.headers);
  const found = findRoute(path);
  const ctx: Ctx = {
    state, version, op, path, params: found?.params ?? {}, data, clientToken, token: undefined, lastUse: false,
    wrappingToken: undefined, wrapTtl, isSudo: false,
  };
  if (found?.route.exists && op === "update" && !found.route.exists(ctx)) ctx.op = op = "create";
  if (WRAPPING_VALIDATED.has(path)) ctx.wrappingToken = validateWrappingToken(state, data, clientToken).token;
  if (!found?.route.unauth) checkToken(ctx, version);

  const outcome = route(ctx, found);
  if (ctx.lastUse && ctx.token && state.tokens.has(ctx.token.id)) state.revoke(ctx.token.id);
  if (outcome === null) return op === "read" || op === "list" ? errorReply(404, []) : jsonReply(204, null);
  if (outcome.kind === "logical" && (op === "update" || op === "create") && found?.route.fields && data) {
    const ignored = Object.keys(data).filter((k) => !found.route.fields?.includes(k)).sort();
    if (ignored.length > 0) {
      outcome.resp.warnings = [...(outcome.resp.warnings ?? []), `Endpoint ignored these unrecognized parameters: ${goList(ignored)}`];
    }
  }
  const mountType = found?.route.unauth ? "" : found?.route.mount ?? "";
  const requestId = crypto.randomUUID();
  if (wrapTtl > 0) {
    const outer = wrapOutcome({ state, version, path, requestId, outcome, mountType, ttl: wrapTtl });
    return jsonReply(200, serialize("", outer, mountTypeFor(version, "")));
  }
  if (outcome.kind === "raw") return jsonReply(outcome.status, outcome.body);
  return jsonReply(200, serialize(requestId, outcome.resp, mountTypeFor(version, mountType)));
}

const CAPABILITY: Record<Op, string> = {
  read: "read", list: "list", update: "update", create: "create", delete: "delete", patch: "patch", header: "read",
};

/** CheckToken + UseToken. */
function checkToken(ctx: Ctx, version: VaultVersion): void {
  if (ctx.clientToken === "") throw forbidden("permission denied");
  const te = ctx.state.get(ctx.clientToken);
  if (te === undefined) {
    throw forbidden(version === "1.14.8" || isOpenBao(version) ? "permission denied" : multiError(["permission denied", "invalid token"]));
  }
  const caps = capabilitiesOf(ctx.state, te.policies, ctx.path);
  if (!caps.includes("root") && !caps.includes(CAPABILITY[ctx.op])) throw new ApiError(403, [PERMISSION_DENIED_ACL]);
  ctx.token = te;
  ctx.isSudo = caps.includes("root") || caps.includes("sudo");
  ctx.lastUse = ctx.state.use(te);
}

function route(ctx: Ctx, found: ReturnType<typeof findRoute>): Outcome {
  if (found === undefined) {
    if (!MOUNTS.some(([prefix]) => ctx.path.startsWith(prefix))) {
      throw new ApiError(404, [`no handler for route ${goQuote(ctx.path)}. route entry not found.`]);
    }
    throw new ApiError(404, [UNSUPPORTED_PATH]);
  }
  const handler = found.route.ops[ctx.op];
  if (handler === undefined) throw new ApiError(405, [UNSUPPORTED_OPERATION]);
  return handler(ctx);
}
