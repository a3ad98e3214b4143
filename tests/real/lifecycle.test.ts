/**
 * Issue 8, item 5 against a real OpenBao: the server unreachable at unmount
 * and gc once it is back, kill -9 while the create call is held, amortised
 * renewal of a real periodic generator token, and renew-token --min-ttl.
 * Faults come from the tests' own loopback proxy (tests/support/tcp-proxy.ts);
 * renew-self calls are counted in the server's audit log.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BINARY, goJson, mountAt } from "../support/kubelet.ts";
import { CREATOR, describeReal, podUid, useRealWorld } from "./world.ts";

const w = useRealWorld({ env: { VAULT_CLIENT_TIMEOUT: "5s" } });

const pod = () => ({ uid: podUid(), namespace: "shop", name: `web-${Math.random().toString(36).slice(2, 7)}`, serviceAccount: "web" });
const journalEntry = (uid: string) => JSON.parse(readFileSync(join(w.stateDir, "volumes", `${uid}_vault.json`), "utf8"));
const journalFiles = () => (existsSync(join(w.stateDir, "volumes")) ? readdirSync(join(w.stateDir, "volumes")).filter((n) => n.endsWith(".json")) : []);
const gc = async () => {
  const r = await w.run(["gc", "--json"]);
  return { exitCode: r.exitCode, report: JSON.parse(r.stdout) };
};
/** Live pod tokens at the server, found through the root token's accessor list. */
async function livePodTokens(podUidFilter?: string): Promise<any[]> {
  const list = await w.bao.api("GET", "auth/token/accessors?list=true", { token: w.bao.rootToken });
  if (list.status !== 200) throw new Error(`list accessors: ${list.status} ${JSON.stringify(list.json)}`);
  const out: any[] = [];
  for (const accessor of list.json?.data?.keys ?? []) {
    const data = await w.lookupAccessor(accessor);
    if (data?.meta?.creator === CREATOR && (podUidFilter === undefined || data.meta.poduid === podUidFilter)) out.push(data);
  }
  return out;
}
const renewSelfCount = () => w.auditRequests().filter((r) => r.path === "auth/token/renew-self").length;

describeReal("5. lifecycle", () => {
  test("server unreachable at unmount: Success, entry pending; gc revokes once the server is back", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app", "vault/unwrap": "true" });
    expect(call.json.status).toBe("Success");
    const accessor = journalEntry(p.uid).accessor;
    await w.proxy.setMode("refuse");
    try {
      const un = await w.kubelet.unmount(call.dir);
      expect(un !== "skipped" && un.json.status).toBe("Success");
      expect(existsSync(call.dir)).toBe(false);
      expect(journalEntry(p.uid)).toMatchObject({ state: "pending", attempts: 1 });
      expect(journalEntry(p.uid).lastError).toMatch(/ECONNREFUSED|refused|Unable to connect/i);
      expect(await w.lookupAccessor(accessor)).toBeDefined();
      const still = await gc();
      expect(still.exitCode).toBe(1);
    } finally {
      await w.proxy.setMode("pass");
    }
    const back = await gc();
    expect(back.exitCode).toBe(0);
    expect(back.report.items).toContainEqual(expect.objectContaining({ podUid: p.uid, action: "revoked" }));
    expect(await w.lookupAccessor(accessor)).toBeUndefined();
    expect(journalFiles()).not.toContain(`${p.uid}_vault.json`);
  });

  test("kill -9 while the create call is held at the proxy; the kubelet's retry and gc leave zero live pod tokens", async () => {
    // Fresh renewal state first, so the held connection is the create call (a mount then makes no other).
    const warm = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    await w.kubelet.unmount(warm.dir);
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const creates = () => w.auditRequests().filter((r) => r.path === "auth/token/create/applications").length;
    const createsBefore = creates();
    await w.proxy.setMode("hold");
    const child = Bun.spawn([BINARY, "mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))], { env: w.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    try {
      await w.proxy.waitForHeld(1);
      child.kill(9);
      await child.exited;
      await w.proxy.waitForHeldClosed();
    } finally {
      await w.proxy.setMode("pass");
    }
    expect(mountAt(dir)).toBeUndefined();
    // The held call never reached the server: nothing was minted that nobody knows of.
    expect(creates()).toBe(createsBefore);
    const retry = await w.kubelet.mount(p, { "vault/policies": "app" });
    expect(retry.json.status).toBe("Success");
    expect(await livePodTokens(p.uid)).toHaveLength(1);
    await w.kubelet.unmount(dir);
    const report = await gc();
    expect(report.exitCode).toBe(0);
    expect(await livePodTokens(p.uid)).toEqual([]);
    expect(await livePodTokens()).toEqual([]);
  }, 30_000);

  test("a burst of 20 mounts from no renewal state renews the real periodic generator once", async () => {
    rmSync(join(w.stateDir, "generator-renewal.json"), { force: true });
    const before = renewSelfCount();
    const calls = await Promise.all(Array.from({ length: 20 }, () => w.kubelet.mount(pod(), { "vault/policies": "app" })));
    expect(calls.map((c) => c.json.status)).toEqual(Array(20).fill("Success"));
    expect(renewSelfCount() - before).toBe(1);
    const gen = await w.bao.api("GET", "auth/token/lookup-self", { token: w.generatorToken });
    expect(gen.json.data.period).toBe(86400);
    expect(gen.json.data.last_renewal_time).toBeGreaterThan(0);
    const state = JSON.parse(readFileSync(join(w.stateDir, "generator-renewal.json"), "utf8"));
    expect(state).toMatchObject({ ttlSeconds: 86400, renewable: true });
    await Promise.all(calls.map((c) => w.kubelet.unmount(c.dir)));
    expect(await livePodTokens()).toEqual([]);
  }, 60_000);

  test("renew-token renews at the server; --min-ttl above the period exits 1 and says why", async () => {
    const before = renewSelfCount();
    const ok = await w.run(["renew-token", "--min-ttl", "12h"]);
    expect(ok.stdout).toContain("generator token renewed: TTL 24h");
    expect(ok.exitCode).toBe(0);
    expect(renewSelfCount() - before).toBe(1);
    const low = await w.run(["renew-token", "--min-ttl", "48h"]);
    expect(low.exitCode).toBe(1);
    expect(low.stderr).toContain("is below --min-ttl 48h");
    const json = await w.run(["renew-token", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ttlSeconds: 86400 });
  });
});
