/**
 * The emulator answers the way Vault's Go server does: with TCP_NODELAY, so a
 * response is never held back waiting for the client's delayed ACK (~40 ms on
 * Linux), which would hide the driver's own cost in every benchmark. Each
 * call here is a fresh TLS connection, as one driver process makes; with
 * Nagle's delay even the fastest would take 40 ms.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "../support/certs.ts";
import { VaultEmulator } from "./index.ts";

let pki: TestPki;
let v: VaultEmulator;
beforeAll(async () => {
  pki = await makeTestPki(join(tmpdir(), "vaulttmpfs-test-pki"));
  v = await VaultEmulator.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
});
afterAll(() => v.stop());

test("fresh TLS connections are answered without Nagle's delay", async () => {
  const gen = v.createToken({ policies: ["applications_token_creator"], orphan: true });
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    const res = await fetch(`${v.url}/v1/auth/token/lookup-self`, { headers: { "X-Vault-Token": gen.token, Connection: "close" }, keepalive: false, tls: { ca: pki.ca } } as RequestInit);
    expect(res.status).toBe(200);
    await res.text();
    times.push(performance.now() - started);
  }
  expect(Math.min(...times)).toBeLessThan(30);
});
