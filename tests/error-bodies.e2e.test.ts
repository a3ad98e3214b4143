/**
 * Issue 10, item 7: a body that is not Vault's `errors[]` never reaches a
 * message (which tenants read as pod events) or the log, and every secret the
 * process holds is scrubbed from both. The proxy is a real HTTP server that
 * echoes the request headers into its error page, the way some do.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { podUid, useWorld } from "./support/world.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "3s" } });
let proxy: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const echoed = [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
      return new Response(`<html><pre>${echoed}</pre>Bad Gateway</html>`, { status: 502, headers: { "content-type": "text/html; charset=utf-8" } });
    },
  });
});
afterAll(() => proxy.stop(true));

describe("raw error bodies and secrets in messages", () => {
  test("a proxy echoing X-Vault-Token: the Failure says what it was, never the body or the token; nor does the log", async () => {
    const m = await w.kubelet.mount({ uid: podUid(), namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" }, { VAULT_ADDR: `http://127.0.0.1:${proxy.port}` });
    expect(m.json.status).toBe("Failure");
    expect(m.json.message).toMatch(/^Vault POST \/v1\/auth\/token\/create\/applications: 502 not an answer from Vault \(text\/html, \d+ bytes\); check VAULT_ADDR and any proxy in between$/);
    expect(m.combined).not.toContain(w.generatorToken);
    expect(m.combined).not.toContain("x-vault-token");
    const log = readFileSync(w.logFile, "utf8");
    expect(log).not.toContain(w.generatorToken);
    expect(log).not.toContain("Bad Gateway");
  });

  test("Vault's own error text echoing the generator token is scrubbed from the Failure and the log", async () => {
    w.vault.inject({ path: /^auth\/token\/create\//, status: 400, errors: [`permission denied for token ${w.generatorToken}`], times: 1 });
    const m = await w.kubelet.mount({ uid: podUid(), namespace: "shop", serviceAccount: "web" }, { "vault/policies": "app" });
    expect(m.json.message).toBe("Vault POST /v1/auth/token/create/applications: 400 permission denied for token [redacted]");
    expect(readFileSync(w.logFile, "utf8")).not.toContain(w.generatorToken);
  });
});
