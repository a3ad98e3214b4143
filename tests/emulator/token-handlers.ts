/** Handlers of the token mount (`auth/token/...`). */
import { isOpenBao, lookupData, type Ctx, type Route } from "./context.ts";
import { goQuote, multiError } from "./gotext.ts";
import { ROLE_FIELDS, applyRoleWrite, durationField, roleReadData } from "./roles.ts";
import { CREATE_FIELDS, authFor, calculateTtl, createToken } from "./token-create.ts";
import { ApiError, badRequest, forbidden, logical, type Outcome } from "./wire.ts";

const NAME = String.raw`\w(?:[\w\-.]*\w)?`;

function str(ctx: Ctx, key: string): string {
  const v = ctx.data?.[key];
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw badRequest(`Field validation failed: error converting input ${JSON.stringify(v)} for field ${goQuote(key)}: '' expected type 'string', got unconvertible type '${Array.isArray(v) ? "[]interface {}" : "map[string]interface {}"}'`);
}

function caller(ctx: Ctx) {
  const te = ctx.token;
  if (te === undefined) throw new ApiError(500, ["internal error"]);
  return te;
}

function create(kind: "plain" | "orphan" | "role"): (ctx: Ctx) => Outcome {
  return (ctx) => {
    const parent = caller(ctx);
    // A token on its final use is gone for Lookup (Vault marks it revocation-pending).
    if (ctx.lastUse) throw badRequest("parent token lookup failed: no parent found");
    let role;
    let relPath = kind === "orphan" ? "create-orphan" : "create";
    if (kind === "role") {
      const name = ctx.params["role"] ?? "";
      role = ctx.state.roles.get(name);
      if (role === undefined) throw badRequest(`unknown role ${name}`);
      relPath = `create/${name}`;
    }
    const resp = createToken({
      state: ctx.state, parent, relPath, orphan: kind === "orphan", role, isSudo: ctx.isSudo, data: ctx.data,
    });
    if (isOpenBao(ctx.version)) {
      // OpenBao warns about every token policy that is not written (yet).
      const missing = (resp.auth?.policies ?? []).filter((p) => !ctx.state.policies.has(p));
      resp.warnings = [...(resp.warnings ?? []), ...missing.map((p) => `Policy ${goQuote(p)} does not exist`)];
    }
    return logical(resp);
  };
}

function lookupSelf(ctx: Ctx): Outcome {
  return logical({ data: lookupData(ctx.state, caller(ctx), ctx.clientToken) });
}

function lookup(ctx: Ctx): Outcome {
  const id = str(ctx, "token") || ctx.clientToken;
  if (id === "") throw badRequest("missing token ID");
  const te = ctx.state.get(id);
  if (te === undefined) throw forbidden("bad token");
  return logical({ data: lookupData(ctx.state, te, id) });
}

/** OpenBao wraps these two errors in go-multierror; Vault (vault-api.md §2.5) does not. */
const accessorError = (ctx: Ctx, msg: string) => badRequest(isOpenBao(ctx.version) ? multiError([msg]) : msg);

function lookupAccessor(ctx: Ctx): Outcome {
  const accessor = str(ctx, "accessor");
  if (accessor === "") throw accessorError(ctx, "missing accessor");
  const te = ctx.state.getByAccessor(accessor);
  if (te === undefined) throw accessorError(ctx, "invalid accessor");
  return logical({ data: lookupData(ctx.state, te, "") });
}

function revokeAccessor(ctx: Ctx): Outcome {
  const accessor = str(ctx, "accessor");
  if (accessor === "") throw accessorError(ctx, "missing accessor");
  const te = ctx.state.getByAccessor(accessor);
  if (te === undefined) return logical({ warnings: ["No token found with this accessor"] });
  ctx.state.revoke(te.id);
  return null;
}

function revokeSelf(ctx: Ctx): Outcome {
  ctx.state.revoke(caller(ctx).id);
  return null;
}

/** renew-self: ExpirationManager.RenewToken + TokenStore.authRenew. */
function renewSelf(ctx: Ctx): Outcome {
  const te = caller(ctx);
  const increment = durationField("increment", ctx.data?.["increment"] ?? 0);
  const now = ctx.state.now();
  if (te.expireAt === null || !te.renewable) throw badRequest("lease is not renewable");
  if (te.expireAt <= now) throw badRequest("lease expired");
  let period = te.period;
  let explicitMax = te.effectiveExplicitMaxTtl;
  if (te.role !== "") {
    const role = ctx.state.roles.get(te.role);
    if (role === undefined) {
      throw new ApiError(500, [`failed to renew entry: original token role ${goQuote(te.role)} could not be found, not renewing`]);
    }
    period = role.tokenPeriod;
    explicitMax = role.tokenExplicitMaxTtl;
  }
  let r;
  try {
    r = calculateTtl({ increment, backendTtl: te.ttl, period, backendMaxTtl: 0, explicitMaxTtl: explicitMax, startMs: te.issueTime, nowMs: now });
  } catch (e) {
    throw e instanceof ApiError ? new ApiError(500, e.errors) : e;
  }
  te.ttl = r.ttl;
  te.expireAt = now + r.ttl * 1000;
  te.lastRenewal = now;
  return logical({ auth: authFor(te, ctx.clientToken, r.ttl, true), warnings: r.warnings });
}

function roleName(ctx: Ctx): string {
  return ctx.params["role"] ?? "";
}

function roleRead(ctx: Ctx): Outcome {
  const role = ctx.state.roles.get(roleName(ctx));
  return role === undefined ? null : logical({ data: roleReadData(role) });
}

function roleWrite(ctx: Ctx): Outcome {
  const name = roleName(ctx);
  const { entry, warnings } = applyRoleWrite(name, ctx.data ?? {}, ctx.state.roles.get(name));
  ctx.state.roles.set(name, entry);
  return warnings.length > 0 ? logical({ warnings }) : null;
}

function roleDelete(ctx: Ctx): Outcome {
  ctx.state.roles.delete(roleName(ctx));
  return null;
}

function roleList(ctx: Ctx): Outcome {
  const keys = [...ctx.state.roles.keys()].sort();
  return keys.length === 0 ? null : logical({ data: { keys } });
}

export const TOKEN_ROUTES: Route[] = [
  { pattern: /^auth\/token\/create$/, mount: "token", fields: CREATE_FIELDS, ops: { update: create("plain") } },
  { pattern: /^auth\/token\/create-orphan$/, mount: "token", fields: CREATE_FIELDS, ops: { update: create("orphan") } },
  { pattern: new RegExp(`^auth/token/create/(?<role>${NAME})$`), mount: "token", fields: CREATE_FIELDS, ops: { update: create("role") } },
  { pattern: /^auth\/token\/lookup$/, mount: "token", fields: ["token"], ops: { read: lookup, update: lookup } },
  { pattern: /^auth\/token\/lookup-self$/, mount: "token", fields: ["token"], ops: { read: lookupSelf, update: lookupSelf } },
  { pattern: /^auth\/token\/lookup-accessor$/, mount: "token", fields: ["accessor"], ops: { update: lookupAccessor } },
  { pattern: /^auth\/token\/revoke-accessor$/, mount: "token", fields: ["accessor"], ops: { update: revokeAccessor } },
  { pattern: /^auth\/token\/revoke-self$/, mount: "token", fields: [], ops: { update: revokeSelf } },
  { pattern: /^auth\/token\/renew-self$/, mount: "token", fields: ["token", "increment"], ops: { update: renewSelf } },
  { pattern: /^auth\/token\/roles\/?$/, mount: "token", ops: { list: roleList } },
  {
    pattern: new RegExp(`^auth/token/roles/(?<role>${NAME})$`), mount: "token", fields: ROLE_FIELDS,
    exists: (ctx) => ctx.state.roles.has(roleName(ctx)),
    ops: { read: roleRead, create: roleWrite, update: roleWrite, delete: roleDelete },
  },
];
