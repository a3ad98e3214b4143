/**
 * Pod tokens die with their pods: the journal, revocation at unmount, crash
 * safety (kill -9 mid-call), kubelet restarts, `gc`, and amortised renewal.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BINARY, goJson, mountAt } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";
import { unwrap, vaultCall } from "./support/vault-http.ts";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "5s" } });
beforeEach(() => w.vault.clearFaults());

const pod = () => ({ uid: podUid(), namespace: "shop", name: `web-${Math.random().toString(36).slice(2, 7)}`, serviceAccount: "web" });
const livePodTokens = () => w.vault.liveTokens().filter((t) => t.meta?.creator === "kubernetes-flexvolume-vault-plugin" && !t.isWrapping);
const journalFiles = () => (existsSync(join(w.stateDir, "volumes")) ? readdirSync(join(w.stateDir, "volumes")).filter((n) => n.endsWith(".json")) : []);
const journalEntry = (uid: string, volume = "vault") => JSON.parse(readFileSync(join(w.stateDir, "volumes", `${uid}_${volume}.json`), "utf8"));
const gc = async (...args: string[]) => {
  const r = await w.inProcess(["gc", "--json", ...args]);
  return { exitCode: r.exitCode, report: JSON.parse(r.stdout) };
};
async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !cond(); await Bun.sleep(10)) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
  }
}
const spawnDriver = (argv: string[]) => Bun.spawn([BINARY, ...argv], { env: w.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });

describe("journal", () => {
  test("one 0600 entry per volume with accessors, never the token; removed when the token is revoked", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app" });
    expect(call.json.status).toBe("Success");
    const file = join(w.stateDir, "volumes", `${p.uid}_vault.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(w.stateDir).mode & 0o777).toBe(0o700);
    const entry = journalEntry(p.uid);
    const token = readFileSync(join(call.dir, "vault-token"), "utf8");
    const wrapInfo = JSON.parse(readFileSync(join(call.dir, "vault-token.json"), "utf8"));
    expect(entry).toMatchObject({ version: 1, podUid: p.uid, volumeName: "vault", dir: call.dir, namespace: "shop", pod: p.name, role: "applications", policies: ["app"], state: "active", accessor: wrapInfo.wrapped_accessor, wrappingAccessor: wrapInfo.accessor });
    expect(readFileSync(file, "utf8")).not.toContain(token);

    w.vault.clearRequests();
    await w.kubelet.unmount(call.dir);
    expect(existsSync(file)).toBe(false);
    expect(w.vault.lookup(wrapInfo.wrapped_accessor)).toBeUndefined();
    // Only the pod token is revoked (one request); the wrapping token, left to its
    // wrap TTL, unwraps into a dead token that Vault refuses.
    expect(w.vault.requests.map((r) => r.path)).toEqual(["auth/token/revoke-accessor"]);
    const unwrapped = await unwrap(w, token);
    expect(unwrapped.status).toBe(200);
    expect(unwrapped.json.auth.accessor).toBe(wrapInfo.wrapped_accessor);
    expect((await vaultCall(w, "GET", "auth/token/lookup-self", unwrapped.json.auth.client_token)).status).toBe(403);
  });

  test("a pod's whole life costs Vault exactly two requests: create at mount, revoke-accessor at unmount", async () => {
    for (const unwrapOpt of ["false", "true"]) {
      const p = pod();
      await w.kubelet.mount(p, { "vault/policies": "app", "vault/unwrap": "true" }); // renews the generator if due, outside the count
      w.vault.clearRequests();
      const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/unwrap": unwrapOpt });
      expect(call.json.status).toBe("Success");
      await w.kubelet.unmount(call.dir);
      expect(w.vault.requests.map((r) => r.path)).toEqual(["auth/token/create/applications", "auth/token/revoke-accessor"]);
      await w.kubelet.unmount(w.kubelet.volumeDir(p.uid));
    }
    expect(livePodTokens()).toEqual([]);
  });

  test("a mount whose journal entry cannot be written fails and revokes its token", async () => {
    const volumes = join(w.stateDir, "volumes");
    mkdirSync(volumes, { recursive: true });
    expect(Bun.spawnSync(["mount", "--bind", volumes, volumes]).exitCode).toBe(0);
    expect(Bun.spawnSync(["mount", "-o", "remount,ro,bind", volumes]).exitCode).toBe(0);
    try {
      const before = livePodTokens().length;
      const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
      expect(call.json.status).toBe("Failure");
      expect(call.json.message).toContain("cannot write journal entry");
      expect(mountAt(call.dir)).toBeUndefined();
      expect(livePodTokens().length).toBe(before);
      expect(w.vault.requests.at(-1)?.path).toBe("auth/token/revoke-accessor");
    } finally {
      Bun.spawnSync(["umount", volumes]);
    }
  });
});

describe("unmount when Vault is down", () => {
  test("still tears down and answers Success; the entry stays pending until gc", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app", "vault/unwrap": "true" });
    const token = readFileSync(join(call.dir, "vault-token"), "utf8");
    w.vault.inject({ path: "auth/token/revoke-accessor", status: 503, errors: ["Vault is sealed"] });

    const un = await w.kubelet.unmount(call.dir);
    expect(un !== "skipped" && un.json.status).toBe("Success");
    expect(existsSync(call.dir)).toBe(false);
    expect(mountAt(call.dir)).toBeUndefined();
    expect(w.vault.lookup(token)).toBeDefined();
    expect(journalEntry(p.uid)).toMatchObject({ state: "pending", attempts: 1, lastError: expect.stringContaining("503 Vault is sealed") });

    const stillDown = await gc();
    expect(stillDown.exitCode).toBe(1);
    expect(stillDown.report.items).toContainEqual(expect.objectContaining({ podUid: p.uid, action: "failed", reason: "pending" }));
    expect(journalEntry(p.uid).attempts).toBe(2);

    w.vault.clearFaults();
    const back = await gc();
    expect(back.exitCode).toBe(0);
    expect(back.report.items).toContainEqual(expect.objectContaining({ podUid: p.uid, action: "revoked" }));
    expect(w.vault.lookup(token)).toBeUndefined();
    expect(journalFiles()).not.toContain(`${p.uid}_vault.json`);
  });
});

describe("crashes", () => {
  test("kill -9 while Vault holds the create call: the kubelet's retry and gc leave no live token and no mount", async () => {
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    w.vault.inject({ path: /^auth\/token\/create\//, hang: true, times: 1 });
    w.vault.clearRequests();
    const child = spawnDriver(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))]);
    await w.vault.waitForRequest((r) => r.path.startsWith("auth/token/create/"), 10_000);
    child.kill(9);
    await child.exited;
    await waitUntil(() => w.vault.hungCount === 0); // Vault notices the client is gone and drops the queued request
    w.vault.releaseHung();
    expect(w.vault.requests.find((r) => r.path.startsWith("auth/token/create/"))?.fault).toBe("hang-cancelled");
    expect(mountAt(dir)).toBeUndefined();

    const retry = await w.kubelet.mount(p, { "vault/policies": "app" });
    expect(retry.json.status).toBe("Success");
    await w.kubelet.unmount(dir);
    const report = await gc();
    expect(report.exitCode).toBe(0);
    expect(livePodTokens().filter((t) => t.meta?.poduid === p.uid)).toEqual([]);
    expect(mountAt(dir)).toBeUndefined();
  });

  test("kill -9 while Vault holds the revoke call of an unmount: gc finishes the job", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app" });
    const accessor = journalEntry(p.uid).accessor;
    w.vault.inject({ path: "auth/token/revoke-accessor", hang: true, times: 1 });
    w.vault.clearRequests();
    const child = spawnDriver(["unmount", call.dir]);
    await w.vault.waitForRequest((r) => r.path === "auth/token/revoke-accessor", 10_000);
    child.kill(9);
    await child.exited;
    w.vault.releaseHung();
    // The kubelet's retry finds the path gone and does not call the driver again.
    expect(await w.kubelet.unmount(call.dir)).toBe("skipped");
    expect(mountAt(call.dir)).toBeUndefined();

    const report = await gc();
    expect(report.exitCode).toBe(0);
    expect(w.vault.lookup(accessor)).toBeUndefined();
    expect(journalFiles()).not.toContain(`${p.uid}_vault.json`);
  });

  test("a half-made volume (tmpfs, no token file) is remade, not reported healthy", async () => {
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    mkdirSync(dir, { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "vaulttmpfs", dir]).exitCode).toBe(0);
    const call = await w.kubelet.call(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))]);
    expect(call.json.status).toBe("Success");
    expect(readdirSync(dir).sort()).toEqual(["vault-token", "vault-token.json"]);
    expect(readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4] === dir)).toHaveLength(1);
    await w.kubelet.unmount(dir);
  });
});

describe("kubelet restarts and lost unmounts", () => {
  test("after a restart with the pod gone, the lone unmount <dir> revokes", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app" });
    const accessor = journalEntry(p.uid).accessor;
    expect((await w.kubelet.init()).json.status).toBe("Success");
    const un = await w.kubelet.unmount(call.dir);
    expect(un !== "skipped" && un.json.status).toBe("Success");
    expect(w.vault.lookup(accessor)).toBeUndefined();
  });

  test("a pod dir deleted without unmount (node reboot) is collected by gc; dry-run only reports", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app" });
    const accessor = journalEntry(p.uid).accessor;
    const healthy = pod();
    const keep = await w.kubelet.mount(healthy, { "vault/policies": "app" });
    Bun.spawnSync(["umount", call.dir]);
    rmSync(join(w.kubelet.rootDir, "pods", p.uid), { recursive: true });

    const dry = await gc("--dry-run");
    expect(dry.exitCode).toBe(1);
    expect(dry.report.items).toContainEqual(expect.objectContaining({ podUid: p.uid, action: "would-revoke", reason: "volume gone" }));
    expect(dry.report.items).toContainEqual(expect.objectContaining({ podUid: healthy.uid, action: "kept", reason: "mounted" }));
    expect(w.vault.lookup(accessor)).toBeDefined();

    const real = await gc();
    expect(real.exitCode).toBe(0);
    expect(w.vault.lookup(accessor)).toBeUndefined();
    expect(mountAt(keep.dir)?.fsType).toBe("tmpfs");
    expect(journalEntry(healthy.uid).state).toBe("active");
    await w.kubelet.unmount(keep.dir);
  });

  test("gc prints a readable summary without --json", async () => {
    const r = await w.inProcess(["gc"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/\d+ entries: \d+ revoked, \d+ kept, \d+ busy, \d+ failed; 0 pending\n$/);
  });
});

describe("concurrency", () => {
  test("50 concurrent mounts and unmounts of distinct pods leave a consistent journal and zero live pod tokens", async () => {
    const pods = Array.from({ length: 50 }, pod);
    const mounted = await Promise.all(pods.map((p) => w.kubelet.mount(p, { "vault/policies": "app" })));
    expect(mounted.map((m) => m.json.status)).toEqual(Array(50).fill("Success"));
    const tokens = new Set(mounted.map((m) => readFileSync(join(m.dir, "vault-token"), "utf8")));
    expect(tokens.size).toBe(50);
    for (const p of pods) expect(journalEntry(p.uid).state).toBe("active");

    // unmount the first half while mounting 25 more, to interleave both paths
    const more = Array.from({ length: 25 }, pod);
    const [unmounts, mounts2] = await Promise.all([
      Promise.all(mounted.slice(0, 25).map((m) => w.kubelet.unmount(m.dir))),
      Promise.all(more.map((p) => w.kubelet.mount(p, { "vault/policies": "app" }))),
    ]);
    expect(unmounts.every((u) => u !== "skipped" && u.json.status === "Success")).toBe(true);
    expect(mounts2.every((m) => m.json.status === "Success")).toBe(true);
    await Promise.all([...mounted.slice(25), ...mounts2].map((m) => w.kubelet.unmount(m.dir)));

    expect(journalFiles()).toEqual([]);
    expect(livePodTokens()).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(w.kubelet.rootDir);
  }, 60_000);
});

describe("generator renewal is amortised", () => {
  test("20 concurrent mounts from no renewal state issue exactly one renew-self", async () => {
    rmSync(join(w.stateDir, "generator-renewal.json"), { force: true });
    w.vault.clearRequests();
    const calls = await Promise.all(Array.from({ length: 20 }, () => w.kubelet.mount(pod(), { "vault/policies": "app" })));
    expect(calls.every((c) => c.json.status === "Success")).toBe(true);
    expect(w.vault.requests.filter((r) => r.path === "auth/token/renew-self")).toHaveLength(1);
    expect(w.vault.requests.filter((r) => r.path.startsWith("auth/token/create/"))).toHaveLength(20);
    // and the next mount, with fresh state, renews nothing
    const next = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    expect(w.vault.requests.filter((r) => r.path === "auth/token/renew-self")).toHaveLength(1);
    await Promise.all([...calls, next].map((c) => w.kubelet.unmount(c.dir)));
  }, 30_000);

  test("renews again once half of the granted TTL has passed", async () => {
    const state = JSON.parse(readFileSync(join(w.stateDir, "generator-renewal.json"), "utf8"));
    expect(state).toMatchObject({ version: 1, ttlSeconds: 86400, renewable: true });
    expect(readFileSync(join(w.stateDir, "generator-renewal.json"), "utf8")).not.toContain(w.generatorToken);
    // Pretend the last renewal was 13 h ago (more than half of 24 h).
    const stale = { ...state, renewedAtMs: Date.now() - 13 * 3600_000 };
    await Bun.write(join(w.stateDir, "generator-renewal.json"), JSON.stringify(stale));
    w.vault.clearRequests();
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    expect(w.vault.requests.filter((r) => r.path === "auth/token/renew-self")).toHaveLength(1);
    await w.kubelet.unmount(call.dir);
  });

  test("a failed renewal does not fail the mount, and the next mounts do not retry it for a minute", async () => {
    rmSync(join(w.stateDir, "generator-renewal.json"), { force: true });
    w.vault.clearRequests();
    w.vault.inject({ path: "auth/token/renew-self", status: 500, errors: ["internal error"] });
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await w.kubelet.mount(pod(), { "vault/policies": "app" }));
    expect(calls.map((c) => c.json.status)).toEqual(["Success", "Success", "Success"]);
    expect(w.vault.requests.filter((r) => r.path === "auth/token/renew-self")).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(w.stateDir, "generator-renewal.json"), "utf8")).failedAtMs).toBeGreaterThan(0);
    w.vault.clearFaults();
    for (const c of calls) await w.kubelet.unmount(c.dir);
  });
});

describe("renew-token", () => {
  test("always renews and prints the TTL; --min-ttl alerts", async () => {
    w.vault.clearRequests();
    const r = await w.inProcess(["renew-token"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("generator token renewed: TTL 24h\n");
    expect(w.vault.requests.filter((q) => q.path === "auth/token/renew-self")).toHaveLength(1);

    const json = await w.inProcess(["renew-token", "--json", "--min-ttl", "48h"]);
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ renewed: true, ttlSeconds: 86400, belowMinTtl: true });
  });

  test("exits non-zero when the generator token cannot be renewed", async () => {
    const dead = w.vault.createToken({ policies: ["applications_token_creator"], ttl: 60, renewable: true });
    await vaultCall(w, "POST", "auth/token/revoke-accessor", w.vault.rootToken, { accessor: dead.accessor });
    const path = join(w.root, "dead-token");
    await Bun.write(path, dead.token);
    chmodSync(path, 0o600);
    const r = await w.inProcess(["renew-token"], { ...w.env, VAULTTMPFS_GENERATOR_TOKEN_PATH: path });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("cannot renew the generator token: Vault PUT /v1/auth/token/renew-self: 403 permission denied");
    expect(r.stderr).not.toContain(dead.token);
  });
});

describe("the pod's dir never holds a half-made volume", () => {
  test("a driver frozen and killed while it builds the volume: the pod's dir is never a mount point without the files, and the retry works", async () => {
    let caught = false;
    for (let attempt = 0; attempt < 10 && !caught; attempt++) {
      const p = pod();
      const dir = w.kubelet.volumeDir(p.uid);
      mkdirSync(dir, { recursive: true, mode: 0o750 });
      const stage = join(w.stateDir, "staging", `${p.uid}_vault`);
      const child = spawnDriver(["mount", dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))]);
      let exited = false;
      void child.exited.then(() => (exited = true));
      while (!exited && !readFileSync("/proc/self/mountinfo", "utf8").includes(` ${stage} `)) await Bun.sleep(0);
      if (!exited) {
        child.kill("SIGSTOP"); // frozen somewhere between the staging mount and the end
        caught = true;
        await Bun.sleep(50); // a `mount --move` child already running may still finish
        const m = mountAt(dir);
        if (m) expect(readdirSync(dir).sort()).toEqual(["vault-token", "vault-token.json"]);
        child.kill(9);
      }
      await child.exited;
      const retry = await w.kubelet.mount(p, { "vault/policies": "app" });
      expect(retry.json.status).toBe("Success");
      expect(readdirSync(dir).sort()).toEqual(["vault-token", "vault-token.json"]);
      await w.kubelet.unmount(dir);
      expect(mountAt(stage)).toBeUndefined();
      expect((await gc()).exitCode).toBe(0);
      expect(livePodTokens().filter((t) => t.meta?.poduid === p.uid)).toEqual([]);
    }
    expect(caught).toBe(true);
  });
});

describe("the state dir", () => {
  test("an operator removes it as the README says (umount the staging root, rm -r) after its pods are gone; the next mount recreates it", async () => {
    const first = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    expect(first.json.status).toBe("Success");
    await w.kubelet.unmount(first.dir);
    const stagingRoot = join(w.stateDir, "staging");
    expect(mountAt(stagingRoot)).toBeDefined(); // the private staging root outlives the volumes: that is why the README names the step
    expect(Bun.spawnSync(["umount", stagingRoot]).exitCode).toBe(0);
    rmSync(w.stateDir, { recursive: true });
    expect(existsSync(w.stateDir)).toBe(false);

    const p = pod();
    const again = await w.kubelet.mount(p, { "vault/policies": "app" });
    expect(again.json.status).toBe("Success");
    expect(mountAt(stagingRoot)).toBeDefined();
    await w.kubelet.unmount(again.dir);
    expect(livePodTokens().filter((t) => t.meta?.poduid === p.uid)).toEqual([]);
  });
});

describe("publication onto a shared kubelet root", () => {
  test("as on a real node (rshared /var/lib/kubelet): the moved tmpfs appears complete at the pod's dir and in a peer, and goes from both at unmount", async () => {
    const kroot = w.kubelet.rootDir;
    const peer = join(w.root, "kubelet-peer");
    mkdirSync(kroot, { recursive: true });
    mkdirSync(peer, { recursive: true });
    expect(Bun.spawnSync(["mount", "--bind", kroot, kroot]).exitCode).toBe(0);
    try {
      expect(Bun.spawnSync(["mount", "--make-rshared", kroot]).exitCode).toBe(0);
      expect(Bun.spawnSync(["mount", "--bind", kroot, peer]).exitCode).toBe(0); // a peer: what the container runtime's view would be
      const p = pod();
      const call = await w.kubelet.mount(p, { "vault/policies": "app" });
      expect(call.json.status).toBe("Success");
      const inPeer = call.dir.replace(kroot, peer);
      expect(mountAt(call.dir)?.source).toBe("vaulttmpfs");
      expect(readdirSync(inPeer).sort()).toEqual(["vault-token", "vault-token.json"]);
      expect(mountAt(join(w.stateDir, "staging", `${p.uid}_vault`))).toBeUndefined();
      await w.kubelet.unmount(call.dir);
      expect(mountAt(call.dir)).toBeUndefined();
      expect(mountAt(inPeer)).toBeUndefined();
    } finally {
      Bun.spawnSync(["umount", "-R", peer]);
      Bun.spawnSync(["umount", "-R", kroot]);
    }
  });
});
