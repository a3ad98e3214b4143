/**
 * The helper every real-server test builds on: a TLS OpenBao that is
 * initialised, unsealed, answers with its version, and is gone after stop().
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { TESTED_OPENBAO_VERSION, findBinary, realServersWanted, requireBinary, startBao } from "../support/bao.ts";

describe.skipIf(!realServersWanted())("startBao", () => {
  test("serves TLS with the test CA, initialised and unsealed, the pinned version; stop() ends only its process", async () => {
    const bao = await startBao();
    try {
      expect(bao.addr).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const health = await bao.api("GET", "sys/health");
      expect(health.status).toBe(200);
      expect(health.json).toMatchObject({ initialized: true, sealed: false, standby: false, version: TESTED_OPENBAO_VERSION });
      const self = await bao.api("GET", "auth/token/lookup-self", { token: bao.rootToken });
      expect(self.json.data.policies).toEqual(["root"]);
      // Without the test CA the handshake must fail: the listener really is TLS with our certificate.
      await expect(fetch(`${bao.addr}/v1/sys/health`)).rejects.toThrow();
      const cli = await bao.cli(["token", "lookup", "-format=json"]);
      expect(cli.exitCode).toBe(0);
      expect(JSON.parse(cli.stdout).data.id).toBe(bao.rootToken);
    } finally {
      await bao.stop();
    }
    expect(existsSync(bao.dir)).toBe(false);
    await expect(fetch(`${bao.addr}/v1/sys/health`, { tls: { ca: bao.pki.ca } } as RequestInit)).rejects.toThrow();
  });

  test("two servers at once get distinct ports", async () => {
    const [a, b] = await Promise.all([startBao(), startBao()]);
    try {
      expect(a.port).not.toBe(b.port);
      expect((await a.api("GET", "sys/health")).status).toBe(200);
      expect((await b.api("GET", "sys/health")).status).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

test("requireBinary names the install command when a binary is missing, and in CI says it must not skip", () => {
  const saved = process.env.PATH;
  const savedCi = process.env.CI;
  try {
    if (findBinary("bao")) expect(requireBinary("bao")).toContain("bao");
    process.env.CI = "true";
    process.env.PATH = "/nonexistent";
    expect(() => requireBinary("ldapadd")).toThrow(/CI=true: the real-server suite must run, not skip.*apt-get install -y ldap-utils/);
  } finally {
    process.env.PATH = saved;
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  }
});
