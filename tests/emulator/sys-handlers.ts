/** sys/capabilities-self, auth/ldap/login/:username and sys/health. */
import { isOpenBao, type Ctx, type Route, type VaultVersion } from "./context.ts";
import { goAtoi, parseGoBool } from "./gotext.ts";
import { Acl, sanitizePolicies } from "./policy.ts";
import { commaSlice } from "./roles.ts";
import { MAX_LEASE_TTL, type EmulatorState } from "./state.ts";
import { authFor } from "./token-create.ts";
import { ApiError, GoStruct, badRequest, errorReply, goMarshal, jsonReply, logical, type Outcome, type Reply } from "./wire.ts";

/** Core.Capabilities for one token and path. */
export function capabilitiesOf(state: EmulatorState, policies: readonly string[], path: string): string[] {
  if (policies.includes("root")) return ["root"];
  return new Acl(state.rulesFor(policies)).capabilities(path);
}

/** handleCapabilities: `paths` (or legacy `path`); `capabilities` only when one path is asked. */
function capabilitiesSelf(ctx: Ctx): Outcome {
  const te = ctx.token;
  if (te === undefined) throw new ApiError(500, ["internal error"]);
  let paths = commaSlice("paths", ctx.data?.["paths"]);
  if (paths.length === 0) paths = commaSlice("path", ctx.data?.["path"]);
  const data: Record<string, unknown> = {};
  for (const p of paths) data[p] = capabilitiesOf(ctx.state, te.policies, p);
  if (paths.length === 1) data["capabilities"] = data[paths[0] ?? ""];
  return logical({ data, injectTopLevel: true });
}

/** LDAP login against the users registered with addLdapUser. */
function ldapLogin(ctx: Ctx): Outcome {
  const username = ctx.params["username"] ?? "";
  const pw = ctx.data?.["password"];
  const password = typeof pw === "string" ? pw : pw === undefined || pw === null ? "" : String(pw);
  if (password === "") throw badRequest("password cannot be of zero length when passwordless binds are being denied");
  const user = ctx.state.ldapUsers.get(username);
  if (user === undefined || user.password !== password) throw badRequest("ldap operation failed: failed to bind as user");
  const te = ctx.state.insert({
    policies: sanitizePolicies(user.policies, true), path: `auth/ldap/login/${username}`, displayName: `ldap-${username}`,
    meta: { username }, orphan: true, renewable: true, ttl: MAX_LEASE_TTL, entityId: user.entityId,
  });
  return logical({ data: {}, auth: authFor(te, te.id, te.ttl, true) });
}

export const SYS_ROUTES: Route[] = [
  { pattern: /^sys\/capabilities-self$/, mount: "system", fields: ["token", "path", "paths"], ops: { update: capabilitiesSelf } },
  { pattern: /^auth\/ldap\/login\/(?<username>.+)$/, mount: "ldap", unauth: true, fields: ["username", "password"], ops: { update: ldapLogin } },
];

function healthCode(q: URLSearchParams, name: string, def: number): number {
  const v = q.get(name);
  if (v === null) return def;
  try {
    return goAtoi(v);
  } catch {
    throw new ApiError(400, []);
  }
}

function healthBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === "") return false; // parseutil.ParseBool weak-decodes "" to false
  try {
    return parseGoBool(v);
  } catch {
    throw new ApiError(400, []);
  }
}

/** GET/HEAD sys/health (http/sys_health.go): status from state + query overrides, body not enveloped. */
export function health(state: EmulatorState, version: VaultVersion, method: string, query: URLSearchParams): Reply {
  if (method !== "GET" && method !== "HEAD") return errorReply(405, []);
  let code: number;
  let body: GoStruct;
  try {
    const standbyOk = healthBool(query, "standbyok");
    healthBool(query, "perfstandbyok");
    healthCode(query, "uninitcode", 501); // validated only: the emulator is always initialized
    const sealedCode = healthCode(query, "sealedcode", 503);
    const standbyCode = healthCode(query, "standbycode", 429);
    const active = healthCode(query, "activecode", 200);
    healthCode(query, "drsecondarycode", 472);
    healthCode(query, "performancestandbycode", 473);
    code = state.sealed ? sealedCode : state.standby && !standbyOk ? standbyCode : active;
    body = healthBody(state, version);
  } catch (e) {
    if (e instanceof ApiError) return method === "HEAD" ? { status: e.status, body: null, headers: {} } : errorReply(e.status, e.errors);
    throw e;
  }
  if (method === "HEAD") return jsonReply(code, null);
  return jsonReply(code, goMarshal(body) + "\n");
}

function healthBody(state: EmulatorState, version: VaultVersion): GoStruct {
  if (isOpenBao(version)) {
    // OpenBao 2.6.2: no performance_standby, enterprise, echo_duration_ms or clock_skew_ms.
    const replication = state.sealed ? "unknown" : "disabled";
    return new GoStruct([
      ["initialized", true], ["sealed", state.sealed], ["standby", state.sealed || state.standby],
      ["replication_performance_mode", replication], ["replication_dr_mode", replication],
      ["server_time_utc", Math.floor(state.now() / 1000)], ["version", version.slice("openbao-".length)],
      ["cluster_name", state.sealed ? undefined : state.clusterName], ["cluster_id", state.sealed ? undefined : state.clusterId],
    ]);
  }
  const modern = version !== "1.14.8";
  const sealed = state.sealed;
  const replication = sealed ? "unknown" : "disabled";
  return new GoStruct([
    ["initialized", true], ["sealed", sealed], ["standby", sealed || state.standby], ["performance_standby", false],
    ["replication_performance_mode", replication], ["replication_dr_mode", replication],
    ["server_time_utc", Math.floor(state.now() / 1000)], ["version", version],
    ["enterprise", modern ? false : undefined],
    ["cluster_name", sealed ? undefined : state.clusterName], ["cluster_id", sealed ? undefined : state.clusterId],
    ["echo_duration_ms", modern ? 0 : undefined], ["clock_skew_ms", modern ? 0 : undefined],
  ]);
}
