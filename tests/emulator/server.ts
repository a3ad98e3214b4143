/**
 * VaultEmulator: an in-process Vault HTTP API emulator over real TLS (node:https in Bun),
 * with state setup helpers, a request log, fault injection and an adjustable clock.
 *
 * Platform note: Bun's HTTP parser rejects the `LIST` method with a bare 400 before any
 * handler runs (and Bun's fetch sends `LIST` as GET), so lists are reachable only as
 * `GET ?list=true`.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { isOpenBao, type VaultVersion } from "./context.ts";
import { FaultSet, HangSet, answers, type FaultRule } from "./faults.ts";
import { processRequest, type Incoming } from "./pipeline.ts";
import { RequestLog, recordOf, type RequestRecord } from "./requests.ts";
import type { PolicyRule } from "./policy.ts";
import { applyRoleWrite, type RoleEntry, type RoleFields } from "./roles.ts";
import { EmulatorState, type TokenEntry } from "./state.ts";
import { createTestToken, type CreateTokenOptions } from "./setup.ts";
import { errorBody, type Reply } from "./wire.ts";

export type { FaultRule } from "./faults.ts";
export type { PolicyRule } from "./policy.ts";
export type { RoleEntry, RoleFields } from "./roles.ts";
export type { TokenEntry, WrappedData } from "./state.ts";
export type { CreateTokenOptions } from "./setup.ts";
export type { VaultVersion } from "./context.ts";
export type { RequestRecord } from "./requests.ts";

export interface EmulatorOptions {
  /** PEM texts. `requestCert` together with `ca` makes a client certificate mandatory (mTLS). */
  tls: { cert: string; key: string; ca?: string; requestCert?: boolean };
  /** Default "127.0.0.1". */
  hostname?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /**
   * Default "1.17.0": decides `mount_type` (>= 1.16) and the invalid-token text (>= 1.17);
   * "openbao-2.6.2" answers as that real server does (token prefix, texts, health body).
   */
  version?: VaultVersion;
  /** Serve plain HTTP instead of TLS. */
  tls_disabled?: boolean;
  /** Listen on this unix socket instead of TCP (use with tls_disabled, as Vault Agent's listener does); `url` is then `unix://<path>`. */
  socketPath?: string;
}

export class VaultEmulator {
  readonly url: string;
  readonly rootToken: string;
  readonly version: VaultVersion;
  private readonly state: EmulatorState;
  private readonly log = new RequestLog();
  private readonly faults = new FaultSet();
  private readonly hangs = new HangSet();
  private stopped = false;

  private constructor(private readonly server: http.Server, url: string, state: EmulatorState, version: VaultVersion) {
    this.url = url;
    this.state = state;
    this.version = version;
    this.rootToken = state.root.id;
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(opts: EmulatorOptions): Promise<VaultEmulator> {
    const version = opts.version ?? "1.17.0";
    const state = new EmulatorState(isOpenBao(version) ? "s." : "hvs.");
    const hostname = opts.hostname ?? "127.0.0.1";
    let emulator: VaultEmulator | undefined;
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (emulator === undefined) { res.destroy(); return; }
      emulator.handle(req, res).catch((e: unknown) => {
        console.error("vault emulator: request failed", e);
        res.destroy();
      });
    };
    const mtls = opts.tls.requestCert === true && opts.tls.ca !== undefined;
    const server = opts.tls_disabled
      ? http.createServer(onRequest)
      : https.createServer({
        cert: opts.tls.cert, key: opts.tls.key, ...(opts.tls.ca !== undefined ? { ca: opts.tls.ca } : {}),
        requestCert: opts.tls.requestCert ?? false, rejectUnauthorized: mtls,
      }, onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const done = () => { server.off("error", reject); resolve(); };
      if (opts.socketPath) server.listen(opts.socketPath, done);
      else server.listen(opts.port ?? 0, hostname, done);
    });
    if (opts.socketPath) {
      emulator = new VaultEmulator(server, `unix://${opts.socketPath}`, state, version);
      return emulator;
    }
    const { port } = server.address() as AddressInfo;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    emulator = new VaultEmulator(server, `${opts.tls_disabled ? "http" : "https"}://${host}:${port}`, state, version);
    return emulator;
  }

  /** Closes the listener and every open connection, including hung ones. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.hangs.stop();
    this.log.rejectAll("vault emulator stopped");
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  // --- state setup -------------------------------------------------------------------

  /** Same semantics as POST auth/token/roles/:name; throws the 400 message on invalid fields. Returns warnings. */
  writeRole(name: string, fields: Partial<RoleFields>): string[] {
    const { entry, warnings } = applyRoleWrite(name, fields as Record<string, unknown>, this.state.roles.get(name));
    this.state.roles.set(name, entry);
    return warnings;
  }

  deleteRole(name: string): void {
    this.state.roles.delete(name);
  }

  /** A copy of a stored role, or undefined. */
  readRole(name: string): RoleEntry | undefined {
    const r = this.state.roles.get(name);
    return r === undefined ? undefined : structuredClone(r);
  }

  /** Creates a token directly (as a root caller would); see CreateTokenOptions for defaults. */
  createToken(opts: CreateTokenOptions): { token: string; accessor: string } {
    const te = createTestToken(this.state, opts);
    return { token: te.id, accessor: te.accessor };
  }

  /** Registers (or replaces) an ACL policy. `root` and `response-wrapping` cannot be replaced. */
  writePolicy(name: string, rules: PolicyRule[]): void {
    if (name === "root" || name === "response-wrapping") throw new Error(`cannot update ${name} policy`);
    this.state.policies.set(name.toLowerCase(), rules.map((r) => ({ path: r.path, capabilities: [...r.capabilities] })));
  }

  deletePolicy(name: string): void {
    this.state.policies.delete(name.toLowerCase());
  }

  /** An LDAP user for auth/ldap/login/:username. `default` is added to the token's policies at login. */
  addLdapUser(name: string, password: string, policies: string[]): void {
    this.state.addLdapUser(name, password, policies);
  }

  /** Revokes a token (by id or accessor) and its non-orphan children. Unknown values are ignored. */
  revoke(tokenOrAccessor: string): void {
    const te = this.state.get(tokenOrAccessor) ?? this.state.getByAccessor(tokenOrAccessor);
    if (te !== undefined) this.state.revoke(te.id);
  }

  // --- assertions --------------------------------------------------------------------

  /** A snapshot of a live (not revoked / expired / used-up) token, by id or accessor. */
  lookup(tokenOrAccessor: string): TokenEntry | undefined {
    const te = this.state.get(tokenOrAccessor) ?? this.state.getByAccessor(tokenOrAccessor);
    return te === undefined ? undefined : structuredClone(te);
  }

  /** Snapshots of every live token except the root token (wrapping tokens included). */
  liveTokens(): TokenEntry[] {
    return this.state.live().map((t) => structuredClone(t));
  }

  /** Every request received, in arrival order, including faulted ones. */
  get requests(): RequestRecord[] {
    return this.log.records;
  }

  clearRequests(): void {
    this.log.clear();
  }

  get sealed(): boolean { return this.state.sealed; }
  set sealed(v: boolean) { this.state.sealed = v; }

  /** Affects sys/health only (429 unless standbyok); other calls are served as if forwarded. */
  get standby(): boolean { return this.state.standby; }
  set standby(v: boolean) { this.state.standby = v; }

  /** Moves the emulator clock forward (expiry, TTLs, timestamps) and sweeps expired tokens. */
  advanceClock(seconds: number): void {
    this.state.advance(seconds);
  }

  /** Emulator time, epoch ms. */
  now(): number {
    return this.state.now();
  }

  // --- fault injection ----------------------------------------------------------------

  inject(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Lets every hung request go on to the real handler. */
  releaseHung(): void {
    this.hangs.release();
  }

  /** Number of requests currently held by `hang` rules (a held request whose client disconnects leaves at once). */
  get hungCount(): number {
    return this.hangs.size;
  }

  /**
   * Resolves with the first request (already logged, or arriving later) matching `pred`,
   * as soon as it arrives and before it is answered. Rejects after `timeoutMs` (default 5000).
   */
  waitForRequest(pred: (r: RequestRecord) => boolean, timeoutMs = 5000): Promise<RequestRecord> {
    return this.log.waitFor(pred, timeoutMs);
  }

  // --- request handling ---------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://emulator");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    const inc: Incoming = {
      method: (req.method ?? "GET").toUpperCase(), pathname: url.pathname, query: url.searchParams, headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    const rec = recordOf(inc, req.rawHeaders);
    this.log.add(rec);

    const rule = this.faults.take(inc.method, rec.path);
    if (rule?.delayMs !== undefined && rule.delayMs > 0) {
      rec.fault = "delay";
      await Bun.sleep(rule.delayMs);
      if (this.stopped) return;
    }
    if (rule?.drop) { rec.fault = "drop"; req.socket.destroy(); return; }
    if (rule?.hang) {
      rec.fault = "hang";
      // Go's http server cancels a request's context when its client disconnects; a request
      // still held (queued, not yet routed) is then never processed, unless the rule says
      // the handler had already started (completeAfterDisconnect).
      const held = this.hangs.hold();
      let clientGone = false;
      res.on("close", () => {
        if (res.writableEnded) return;
        clientGone = true;
        if (!rule.completeAfterDisconnect) held.cancel();
      });
      const end = await held.ended;
      if (end === "stop") return;
      if (end === "cancelled" || (clientGone && !rule.completeAfterDisconnect)) { rec.fault = "hang-cancelled"; return; }
    } else if (rule && answers(rule)) {
      rec.fault = "status";
      const body = rule.body ?? errorBody(rule.errors ?? []);
      return this.send(res, rec, inc, { status: rule.status ?? 500, body, headers: { "Content-Type": "application/json", ...rule.headers } });
    }
    const reply = processRequest(this.state, this.version, inc);
    if (rule?.headers) Object.assign(reply.headers, rule.headers);
    this.send(res, rec, inc, reply);
  }

  private send(res: http.ServerResponse, rec: RequestRecord, inc: Incoming, reply: Reply): void {
    if (res.destroyed || res.writableEnded) return;
    const headers: Record<string, string> = { "Cache-Control": "no-store", ...reply.headers };
    const ns = inc.headers["x-vault-namespace"];
    if (ns !== undefined && ns !== "") headers["X-Vault-Namespace"] = ns;
    const body = inc.method === "HEAD" || reply.status === 204 ? null : reply.body;
    if (body !== null) headers["Content-Length"] = String(Buffer.byteLength(body));
    rec.status = reply.status;
    res.writeHead(reply.status, headers);
    res.end(body ?? undefined);
  }
}
