/**
 * The compiled binary, run exactly as the kubelet runs it, against the Vault
 * emulator over TLS, on real tmpfs mounts in a private mount namespace.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { BINARY, goJson, mountAt, mountCount } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";
import { unwrap } from "./support/vault-http.ts";

const w = useWorld();

const pod = (extra: Partial<{ namespace: string; name: string; serviceAccount: string; fsGroup: number; readOnly: boolean; volume: string }> = {}) => ({
  uid: podUid(), namespace: "shop", name: "web-0", serviceAccount: "web", ...extra,
});
const creates = () => w.vault.requests.filter((r) => r.path.startsWith("auth/token/create/"));
const podTokens = () => w.vault.liveTokens().filter((t) => t.meta?.creator === "kubernetes-flexvolume-vault-plugin");

describe("init", () => {
  test("answers the capabilities exactly, with no config, no Vault and no disk", async () => {
    const call = await w.kubelet.call(["init"], { PATH: "/usr/bin:/bin", VAULT_ADDR: "https://127.0.0.1:1", VAULTTMPFS_LOG_FILE: join(w.root, "init.log"), VAULTTMPFS_STATE_DIR: join(w.root, "init-state") });
    expect(call.combined).toBe('{"status":"Success","capabilities":{"attach":false,"selinuxRelabel":true,"fsGroup":false,"supportsMetrics":false}}\n');
    expect(call.exitCode).toBe(0);
    expect(existsSync(join(w.root, "init.log"))).toBe(false);
    expect(existsSync(join(w.root, "init-state"))).toBe(false);
  });

  test("answers the same with a broken environment, 20 times over", async () => {
    const outputs = new Set<string>();
    for (let i = 0; i < 20; i++) outputs.add((await w.kubelet.call(["init"], { VAULT_ADDR: "::bad::", VAULT_MAX_RETRIES: "x" })).combined);
    expect([...outputs]).toHaveLength(1);
  });
});

describe("commands the driver does not implement", () => {
  const cases = [
    ["attach", '{"kubernetes.io/fsType":""}', "node-1"], ["detach", "vol", "node-1"], ["waitforattach", "/dev/x", "{}"],
    ["isattached", "{}", "node-1"], ["mountdevice", "/mnt", "/dev/x", "{}"], ["unmountdevice", "/mnt"], ["getvolumename", "{}"],
    ["expandvolume", "{}", "/mnt", "2", "1"], ["expandfs", "{}", "/dev/x", "/mnt", "2", "1"], ["frobnicate"], [""],
  ];
  test.each(cases)("%p → Not supported, exit 0", async (...argv) => {
    const call = await w.kubelet.call(argv);
    expect(call.json.status).toBe("Not supported");
    expect(call.exitCode).toBe(0);
    expect(call.stderr).toBe("");
  });
});

describe("mount and unmount, happy path", () => {
  test("mounts a tmpfs holding a wrapped token that unwraps to the requested policies and metadata", async () => {
    const p = pod();
    const call = await w.kubelet.mount(p, { "vault/policies": "app, shared-read" });
    expect(call.json).toEqual({ status: "Success" });
    expect(call.exitCode).toBe(0);

    const m = mountAt(call.dir)!;
    expect(m.fsType).toBe("tmpfs");
    expect(m.source).toBe("vaulttmpfs");
    expect(m.mountOptions).toEqual(expect.arrayContaining(["rw", "nosuid", "nodev", "noexec", "noatime"]));
    expect(m.superOptions).toEqual(expect.arrayContaining(["size=1024k", "mode=755"]));
    expect(mountCount(call.dir)).toBe(1);
    expect(statSync(call.dir).dev).not.toBe(statSync(join(call.dir, "..")).dev);

    expect(readdirSync(call.dir).sort()).toEqual(["vault-token", "vault-token.json"]);
    const token = readFileSync(join(call.dir, "vault-token"), "utf8");
    expect(token).toMatch(/^hvs\.[A-Za-z0-9]+$/);
    const wrapInfo = JSON.parse(readFileSync(join(call.dir, "vault-token.json"), "utf8"));
    expect(wrapInfo.token).toBe(token);
    expect(wrapInfo.creation_path).toBe("auth/token/create/applications");
    expect(wrapInfo.ttl).toBe(300);
    for (const f of ["vault-token", "vault-token.json"]) {
      const st = statSync(join(call.dir, f));
      expect(st.mode & 0o7777).toBe(0o444);
      expect([st.uid, st.gid]).toEqual([0, 0]);
    }

    const create = creates().at(-1)!;
    expect(create.method).toBe("POST");
    expect(create.headers["x-vault-request"]).toBe("true");
    expect(create.headers["x-vault-wrap-ttl"]).toBe("5m");
    expect(create.headers["x-vault-token"]).toBe(w.generatorToken);

    const unwrapped = await unwrap(w, token);
    expect(unwrapped.status).toBe(200);
    const auth = unwrapped.json.auth;
    expect(auth.policies).toEqual(["app", "default", "shared-read"]);
    expect(auth.metadata).toEqual({ poduid: p.uid, creator: "kubernetes-flexvolume-vault-plugin", namespace: "shop", pod: "web-0", serviceaccount: "web", volume: "vault", node: "node-1" });
    expect(w.vault.lookup(auth.client_token)?.policies).toEqual(["app", "default", "shared-read"]);
    expect((await unwrap(w, token)).status).toBe(400); // single use

    const un = await w.kubelet.unmount(call.dir);
    expect(un).not.toBe("skipped");
    expect((un as { json: unknown }).json).toEqual({ status: "Success" });
    expect(existsSync(call.dir)).toBe(false);
    expect(mountAt(call.dir)).toBeUndefined();
    expect(w.vault.lookup(auth.client_token)).toBeUndefined(); // revoked with its pod
  });

  test("vault/unwrap writes the client token and the whole response, with no wrap header", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app", "vault/unwrap": "true" });
    expect(call.json.status).toBe("Success");
    expect(creates().at(-1)!.headers["x-vault-wrap-ttl"]).toBeUndefined();
    const token = readFileSync(join(call.dir, "vault-token"), "utf8");
    const response = JSON.parse(readFileSync(join(call.dir, "vault-token.json"), "utf8"));
    expect(response.auth.client_token).toBe(token);
    expect(w.vault.lookup(token)?.policies).toEqual(["app", "default"]);
    await w.kubelet.unmount(call.dir);
    expect(w.vault.lookup(token)).toBeUndefined();
  });

  test("the legacy mount <dir> <device> <json> form works", async () => {
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const call = await w.kubelet.call(["mount", dir, "/dev/null", goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))]);
    expect(call.json.status).toBe("Success");
    expect(mountAt(dir)?.fsType).toBe("tmpfs");
    await w.kubelet.unmount(dir);
  });

  test("a second mount of a healthy volume mints nothing and stacks nothing", async () => {
    const p = pod();
    const first = await w.kubelet.mount(p, { "vault/policies": "app" });
    const token = readFileSync(join(first.dir, "vault-token"), "utf8");
    const before = creates().length;
    const again = await w.kubelet.call(["mount", first.dir, goJson(w.kubelet.mountOptions(p, { "vault/policies": "app" }))]);
    expect(again.json.status).toBe("Success");
    expect(creates().length).toBe(before);
    expect(mountCount(first.dir)).toBe(1);
    expect(readFileSync(join(first.dir, "vault-token"), "utf8")).toBe(token);
    await w.kubelet.unmount(first.dir);
  });

  test("mount recovers a dir holding stale files from an old on-disk driver", async () => {
    const p = pod();
    const dir = w.kubelet.volumeDir(p.uid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    writeFileSync(join(dir, "vault-token"), "s.stale-token-on-disk");
    writeFileSync(join(dir, "vault-token.json"), "{}");
    const call = await w.kubelet.mount(p, { "vault/policies": "app" });
    expect(call.json.status).toBe("Success");
    expect(readFileSync(join(dir, "vault-token"), "utf8")).not.toContain("stale");
    await w.kubelet.unmount(dir);
    expect(existsSync(dir)).toBe(false); // the stale files underneath are gone too
  });
});

describe("unmount is idempotent", () => {
  test("second unmount, missing dir, empty dir, dir with stray files", async () => {
    const call = await w.kubelet.mount(pod(), { "vault/policies": "app" });
    expect((await w.kubelet.call(["unmount", call.dir])).json.status).toBe("Success");
    expect((await w.kubelet.call(["unmount", call.dir])).json.status).toBe("Success");

    const empty = w.kubelet.volumeDir(podUid());
    mkdirSync(empty, { recursive: true });
    expect((await w.kubelet.call(["unmount", empty])).json.status).toBe("Success");
    expect(existsSync(empty)).toBe(false);

    const stray = w.kubelet.volumeDir(podUid());
    mkdirSync(join(stray, "sub"), { recursive: true });
    writeFileSync(join(stray, "leftover"), "x");
    writeFileSync(join(stray, "sub", "deeper"), "x");
    expect((await w.kubelet.call(["unmount", stray])).json.status).toBe("Success");
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(join(stray, ".."))).toBe(true); // only inside that dir
  });

  test("refuses to unmount a mount it did not make", async () => {
    const dir = w.kubelet.volumeDir(podUid());
    mkdirSync(dir, { recursive: true });
    const bind = Bun.spawnSync(["mount", "--bind", w.root, dir]);
    expect(bind.exitCode).toBe(0);
    const call = await w.kubelet.call(["unmount", dir]);
    expect(call.json.status).toBe("Failure");
    expect(call.json.message).toContain("that this driver did not make; refusing to unmount it");
    expect(mountAt(dir)?.fsType).not.toBe("tmpfs");
    Bun.spawnSync(["umount", dir]);
  });
});

test("the binary is self-contained: it runs with an empty environment", async () => {
  const r = Bun.spawnSync([BINARY, "version"], { env: {} });
  expect(r.stdout.toString()).toMatch(/^vaulttmpfs \S+ \(\S+\)\n$/);
});

describe("bounded and quiet", () => {
  test("a Vault that accepts connections and never answers (not even TLS) cannot hang a mount", async () => {
    const { createServer } = await import("node:net");
    const held: import("node:net").Socket[] = [];
    const blackhole = createServer((s) => void held.push(s)).listen(0, "127.0.0.1");
    await new Promise((r) => blackhole.once("listening", r));
    try {
      const port = (blackhole.address() as { port: number }).port;
      const p = pod();
      const started = performance.now();
      const call = await w.kubelet.mount(p, { "vault/policies": "app" }, { VAULT_ADDR: `https://127.0.0.1:${port}`, VAULT_CLIENT_TIMEOUT: "1s", VAULT_MAX_RETRIES: "0" });
      expect(performance.now() - started).toBeLessThan(5000);
      expect(call.json.status).toBe("Failure");
      expect(call.json.message).toBe("Vault POST /v1/auth/token/create/applications: no answer within 1s (VAULT_CLIENT_TIMEOUT)");
      expect(mountAt(call.dir)).toBeUndefined();
    } finally {
      for (const s of held) s.destroy();
      blackhole.close();
    }
  });

  test("init, mount and unmount cause no event in the plugin dir (each one would re-run init on every kubelet)", async () => {
    const { cpSync, mkdtempSync, watch } = await import("node:fs");
    const pluginDir = mkdtempSync(join(w.root, "plugins-"));
    const driverDir = join(pluginDir, "cloudwatt~vaulttmpfs");
    mkdirSync(driverDir);
    cpSync(BINARY, join(driverDir, "vaulttmpfs"));
    const events: string[] = [];
    const watcher = watch(pluginDir, { recursive: true }, (type, name) => void events.push(`${type} ${name}`));
    try {
      const { Kubelet } = await import("./support/kubelet.ts");
      const k = new Kubelet(w.kubelet.rootDir, w.env, join(driverDir, "vaulttmpfs"));
      expect((await k.init()).json.status).toBe("Success");
      const m = await k.mount(pod(), { "vault/policies": "app" });
      expect(m.json.status).toBe("Success");
      await k.unmount(m.dir);
      await Bun.sleep(100);
      expect(events).toEqual([]);
      // control: the watch does see a change in the driver dir
      writeFileSync(join(driverDir, "probe"), "x");
      await Bun.sleep(100);
      expect(events.length).toBeGreaterThan(0);
    } finally {
      watcher.close();
    }
  });
});
