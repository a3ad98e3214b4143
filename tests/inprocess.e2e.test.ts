/**
 * The same kubelet calls, run in this process through `main()` (so coverage
 * sees the command code), on real tmpfs mounts against the emulator. The
 * compiled binary is covered by the other *.e2e files.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../src/cli.ts";
import { defaultContext } from "../src/context.ts";
import { createTmpfs, spawnRunner } from "../src/volume/tmpfs.ts";
import { goJson, mountAt, mountCount } from "./support/kubelet.ts";
import { podUid, useWorld } from "./support/world.ts";
import { vaultCall } from "./support/vault-http.ts";
import { forgetSecrets, REDACTED, scrub } from "../src/log/scrub.ts";
import { mkdtempSync } from "node:fs";

const w = useWorld({ env: { VAULT_MAX_RETRIES: "0", VAULT_CLIENT_TIMEOUT: "2s" } });
beforeEach(() => {
  w.vault.clearFaults();
  w.vault.clearRequests();
});

const opts = (uid: string, user: Record<string, string> = { "vault/policies": "app" }) =>
  goJson(w.kubelet.mountOptions({ uid, namespace: "shop", name: "web-0", serviceAccount: "web" }, user));
const entryFile = (uid: string) => join(w.stateDir, "volumes", `${uid}_vault.json`);

describe("mount and unmount in-process", () => {
  test("mount, idempotent re-mount, unmount, second unmount", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    const first = await w.inProcess(["mount", dir, opts(uid)]);
    expect([first.exitCode, first.json, first.stderr]).toEqual([0, { status: "Success" }, ""]);
    const token = readFileSync(join(dir, "vault-token"), "utf8");
    const again = await w.inProcess(["mount", dir, opts(uid)]);
    expect(again.json.status).toBe("Success");
    expect(mountCount(dir)).toBe(1);
    expect(readFileSync(join(dir, "vault-token"), "utf8")).toBe(token);
    expect(w.vault.requests.filter((r) => r.path.startsWith("auth/token/create/"))).toHaveLength(1);

    const accessor = JSON.parse(readFileSync(entryFile(uid), "utf8")).accessor;
    expect((await w.inProcess(["unmount", dir])).json.status).toBe("Success");
    expect(existsSync(dir)).toBe(false);
    expect(w.vault.lookup(accessor)).toBeUndefined();
    expect((await w.inProcess(["unmount", dir])).json.status).toBe("Success");
  });

  test("unmount with Vault refusing: Success, torn down, entry pending with the error", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    await w.inProcess(["mount", dir, opts(uid)]);
    w.vault.inject({ path: "auth/token/revoke-accessor", status: 500, errors: ["internal error"] });
    const un = await w.inProcess(["unmount", dir]);
    expect(un.json.status).toBe("Success");
    expect(mountAt(dir)).toBeUndefined();
    expect(JSON.parse(readFileSync(entryFile(uid), "utf8"))).toMatchObject({ state: "pending", attempts: 1, lastError: "Vault POST /v1/auth/token/revoke-accessor: 500 internal error" });
    w.vault.clearFaults();
    expect((await w.inProcess(["gc"])).exitCode).toBe(0);
    expect(existsSync(entryFile(uid))).toBe(false);
  });

  test("unmount with the generator token gone: Success, entry pending", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    await w.inProcess(["mount", dir, opts(uid)]);
    const un = await w.inProcess(["unmount", dir], { ...w.env, VAULTTMPFS_GENERATOR_TOKEN_PATH: join(w.root, "missing") });
    expect(un.json.status).toBe("Success");
    expect(JSON.parse(readFileSync(entryFile(uid), "utf8")).lastError).toContain("cannot read the generator token");
    expect((await w.inProcess(["gc"])).exitCode).toBe(0);
  });

  test("mount refuses to cover a mount it did not make", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    mkdirSync(dir, { recursive: true });
    expect(Bun.spawnSync(["mount", "--bind", w.root, dir]).exitCode).toBe(0);
    try {
      const r = await w.inProcess(["mount", dir, opts(uid)]);
      expect(r.json.message).toMatch(/is already a \S+ mount \(source ".+"\) that this driver did not make/);
      expect(w.vault.requests).toEqual([]);
    } finally {
      Bun.spawnSync(["umount", dir]);
    }
  });

  test("mount refuses a dir with mounts below it; unmount refuses to remove it", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    mkdirSync(join(dir, "inner"), { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "other", join(dir, "inner")]).exitCode).toBe(0);
    writeFileSync(join(dir, "inner", "precious"), "x");
    try {
      expect((await w.inProcess(["mount", dir, opts(uid)])).json.message).toContain("has mounts below it");
      expect((await w.inProcess(["unmount", dir])).json.message).toContain("has mounts below it");
      expect(readFileSync(join(dir, "inner", "precious"), "utf8")).toBe("x");
    } finally {
      Bun.spawnSync(["umount", join(dir, "inner")]);
    }
  });

  test("a mount after a crashed attempt revokes the earlier attempt's token first", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    await w.inProcess(["mount", dir, opts(uid)]);
    const earlier = JSON.parse(readFileSync(entryFile(uid), "utf8")).accessor;
    // a node reboot: the tmpfs is gone, the journal entry stays, the kubelet mounts again
    Bun.spawnSync(["umount", dir]);
    const again = await w.inProcess(["mount", dir, opts(uid)]);
    expect(again.json.status).toBe("Success");
    expect(w.vault.lookup(earlier)).toBeUndefined();
    expect(JSON.parse(readFileSync(entryFile(uid), "utf8")).accessor).not.toBe(earlier);
    await w.inProcess(["unmount", dir]);
  });

  test("wrapping switched off with no vault/unwrap is refused before Vault", async () => {
    const uid = podUid();
    const r = await w.inProcess(["mount", w.kubelet.volumeDir(uid), opts(uid)], { ...w.env, VAULT_WRAP_TTL: "0" });
    expect(r.json.message).toContain("response wrapping is off (VAULT_WRAP_TTL=0)");
    expect(w.vault.requests).toEqual([]);
    const unwrapped = await w.inProcess(["mount", w.kubelet.volumeDir(uid), opts(uid, { "vault/policies": "app", "vault/unwrap": "true" })], { ...w.env, VAULT_WRAP_TTL: "0" });
    expect(unwrapped.json.status).toBe("Success");
    await w.inProcess(["unmount", w.kubelet.volumeDir(uid)]);
  });

  test("operator commands: help, --help per command, unknown flag, version", async () => {
    expect((await w.inProcess(["help"])).stdout).toContain("Operator commands");
    const gcHelp = await w.inProcess(["gc", "--help"]);
    expect(gcHelp.stdout).toContain("usage: vaulttmpfs gc [--dry-run] [--json]");
    const bad = await w.inProcess(["gc", "--nope"]);
    expect([bad.exitCode, bad.stderr]).toEqual([2, 'vaulttmpfs gc: unknown argument "--nope"; known: --dry-run --json\n']);
    expect(JSON.parse((await w.inProcess(["version", "--json"])).stdout)).toEqual({ version: "dev", commit: "unknown" });
  });
});

describe("gc prunes lock files of long-gone volumes", () => {
  test("only old, unheld locks without a journal entry go", async () => {
    const { readdirSync, utimesSync } = await import("node:fs");
    const { tryLock } = await import("../src/state/lock.ts");
    const gone = podUid();
    const live = podUid();
    const held = podUid();
    for (const uid of [gone, live, held]) await w.inProcess(["mount", w.kubelet.volumeDir(uid), opts(uid)]);
    for (const uid of [gone, held]) await w.inProcess(["unmount", w.kubelet.volumeDir(uid)]);
    const locks = join(w.stateDir, "locks");
    const old = new Date(Date.now() - 48 * 3600_000);
    for (const uid of [gone, live, held]) utimesSync(join(locks, `${uid}_vault.lock`), old, old);
    const holder = tryLock(join(locks, `${held}_vault.lock`))!;
    try {
      const r = await w.inProcess(["gc", "--json"]);
      expect(JSON.parse(r.stdout).prunedLocks).toBeGreaterThanOrEqual(1);
      const left = readdirSync(locks);
      expect(left).not.toContain(`${gone}_vault.lock`);
      expect(left).toContain(`${live}_vault.lock`); // still has a journal entry
      expect(left).toContain(`${held}_vault.lock`); // someone holds it
      expect(left).toContain("generator-renewal.lock");
    } finally {
      holder.release();
      await w.inProcess(["unmount", w.kubelet.volumeDir(live)]);
    }
  });
});

describe("the driver touches only what it made", () => {
  test("another driver's volume dir is refused by mount and unmount, and left alone", async () => {
    const dir = join(w.kubelet.rootDir, "pods", podUid(), "volumes", "kubernetes.io~empty-dir", "cache");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "data"), "keep me");
    const un = await w.inProcess(["unmount", dir]);
    expect(un.json.message).toContain('belongs to driver "kubernetes.io~empty-dir", not to this one (cloudwatt~vaulttmpfs)');
    expect(readFileSync(join(dir, "data"), "utf8")).toBe("keep me");
    expect((await w.inProcess(["mount", dir, opts(podUid())])).json.status).toBe("Failure");
  });

  test("a tmpfs with another source at our dir is neither unmounted nor covered", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    mkdirSync(dir, { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "someone-else", dir]).exitCode).toBe(0);
    writeFileSync(join(dir, "theirs"), "x");
    try {
      expect((await w.inProcess(["unmount", dir])).json.message).toContain('tmpfs mount (source "someone-else") that this driver did not make');
      expect((await w.inProcess(["mount", dir, opts(uid)])).json.message).toContain('source "someone-else"');
      expect(readFileSync(join(dir, "theirs"), "utf8")).toBe("x");
    } finally {
      Bun.spawnSync(["umount", dir]);
    }
  });

  test("a mount nested inside our volume makes unmount refuse before it detaches anything", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    expect((await w.inProcess(["mount", dir, opts(uid)])).json.status).toBe("Success");
    const inner = join(w.root, "nested-target");
    mkdirSync(inner, { recursive: true });
    writeFileSync(join(inner, "precious"), "x");
    // our tmpfs is read-write by default: make a mount point inside it and bind something there
    mkdirSync(join(dir, "sub"));
    expect(Bun.spawnSync(["mount", "--bind", inner, join(dir, "sub")]).exitCode).toBe(0);
    try {
      const un = await w.inProcess(["unmount", dir]);
      expect(un.json.message).toContain("has mounts below it");
      expect(mountAt(dir)?.source).toBe("vaulttmpfs");
      expect(mountAt(join(dir, "sub"))).toBeDefined();
      expect(readFileSync(join(inner, "precious"), "utf8")).toBe("x");
    } finally {
      Bun.spawnSync(["umount", join(dir, "sub")]);
      await w.inProcess(["unmount", dir]);
    }
  });

  test("a symlinked kubelet root: healthy volumes are recognised, unmount revokes, gc keeps live ones", async () => {
    const { symlinkSync } = await import("node:fs");
    const link = join(w.root, "kubelet-link");
    symlinkSync(w.kubelet.rootDir, link);
    const uid = podUid();
    const dir = join(link, "pods", uid, "volumes", "cloudwatt~vaulttmpfs", "vault");
    expect((await w.inProcess(["mount", dir, opts(uid)])).json.status).toBe("Success");
    expect((await w.inProcess(["mount", dir, opts(uid)])).json.status).toBe("Success");
    expect(w.vault.requests.filter((r) => r.path.startsWith("auth/token/create/"))).toHaveLength(1);
    const gc = JSON.parse((await w.inProcess(["gc", "--json", "--dry-run"])).stdout);
    expect(gc.items.find((i: { podUid: string }) => i.podUid === uid)).toMatchObject({ action: "kept", reason: "mounted" });
    const accessor = JSON.parse(readFileSync(entryFile(uid), "utf8")).accessor;
    expect((await w.inProcess(["unmount", dir])).json.status).toBe("Success");
    expect(existsSync(dir)).toBe(false);
    expect(w.vault.lookup(accessor)).toBeUndefined();
  });
});

describe("staging and gc safety", () => {
  test("a staging mount left by a killed mount is removed by gc, and by the next mount of that volume", async () => {
    const uid = podUid();
    const stage = join(w.stateDir, "staging", `${uid}_vault`);
    mkdirSync(stage, { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "vaulttmpfs", stage]).exitCode).toBe(0);
    const gc = JSON.parse((await w.inProcess(["gc", "--json"])).stdout);
    expect(gc.cleanedStaging).toBeGreaterThanOrEqual(1);
    expect(mountAt(stage)).toBeUndefined();
    expect(existsSync(stage)).toBe(false);

    mkdirSync(stage, { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "vaulttmpfs", stage]).exitCode).toBe(0);
    expect((await w.inProcess(["mount", w.kubelet.volumeDir(uid), opts(uid)])).json.status).toBe("Success");
    expect(mountAt(stage)).toBeUndefined();
    await w.inProcess(["unmount", w.kubelet.volumeDir(uid)]);
  });

  test("gc judges nothing when the kubelet's pod dirs are not visible (an agent with the wrong hostPath)", async () => {
    const uid = podUid();
    const t = w.vault.createToken({ policies: ["app"] });
    const entry = { version: 1, podUid: uid, volumeName: "vault", dir: `/nonexistent-kubelet/pods/${uid}/volumes/cloudwatt~vaulttmpfs/vault`, namespace: "shop", pod: "web", serviceAccount: "web", role: "applications", policies: ["app"], accessor: t.accessor, createdAt: "", ttlSeconds: 0, state: "active", attempts: 0, updatedAt: "" };
    writeFileSync(entryFile(uid), JSON.stringify(entry));
    const gc = JSON.parse((await w.inProcess(["gc", "--json"])).stdout);
    expect(gc.items.find((i: { podUid: string }) => i.podUid === uid)).toMatchObject({ action: "kept", reason: "kubelet dir not visible" });
    expect(w.vault.lookup(t.accessor)).toBeDefined();
    Bun.spawnSync(["rm", "-f", entryFile(uid)]);
  });
});

describe("staging is private and never outlives its volume", () => {
  test("the staging root is a private mount point of its own", async () => {
    const uid = podUid();
    await w.inProcess(["mount", w.kubelet.volumeDir(uid), opts(uid)]);
    const root = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")).find((f) => f[4] === join(w.stateDir, "staging"));
    expect(root).toBeDefined();
    expect(root!.slice(6, root!.indexOf("-", 6)).some((t) => t.startsWith("shared:"))).toBe(false);
    await w.inProcess(["unmount", w.kubelet.volumeDir(uid)]);
  });

  test("spawns only what the safety argument needs: mount = staging tmpfs + move (+ read-only remount), unmount = one umount", async () => {
    const spawned: string[][] = [];
    const tmpfs = createTmpfs(async (argv) => {
      spawned.push(argv.map((a) => a.replace(/^\/.*\/(u?mount)$/, "$1")));
      return spawnRunner(argv);
    });
    const run = async (argv: string[]) => {
      let out = "";
      await main(argv, w.env, { out: (t) => void (out += t), err: () => {} }, { ...defaultContext(w.env), tmpfs });
      return JSON.parse(out).status;
    };
    const warm = podUid(); // the staging root is made private once per boot, not per mount
    expect(await run(["mount", w.kubelet.volumeDir(warm), opts(warm)])).toBe("Success");
    expect(await run(["unmount", w.kubelet.volumeDir(warm)])).toBe("Success");

    for (const readOnly of [false, true]) {
      const uid = podUid();
      const dir = w.kubelet.volumeDir(uid);
      const stage = join(w.stateDir, "staging", `${uid}_vault`);
      spawned.length = 0;
      expect(await run(["mount", dir, goJson(w.kubelet.mountOptions({ uid, namespace: "shop", name: "web-0", serviceAccount: "web", readOnly }, { "vault/policies": "app" }))])).toBe("Success");
      expect(spawned.map((a) => `${a[0]} ${a[1]}`)).toEqual(["mount -t", ...(readOnly ? ["mount -o"] : []), "mount --move"]);
      expect(spawned.at(-1)).toEqual(["mount", "--move", stage, dir]);
      expect(existsSync(stage)).toBe(false);
      expect(mountAt(dir)?.mountOptions.includes("ro")).toBe(readOnly);
      spawned.length = 0;
      expect(await run(["unmount", dir])).toBe("Success");
      expect(spawned).toEqual([["umount", dir]]);
    }
  });

  test("unmount also removes a staging tmpfs left by a mount killed before its move", async () => {
    const uid = podUid();
    const dir = w.kubelet.volumeDir(uid);
    await w.inProcess(["mount", dir, opts(uid)]);
    const stage = join(w.stateDir, "staging", `${uid}_vault`);
    mkdirSync(stage, { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "vaulttmpfs", stage]).exitCode).toBe(0);
    expect((await w.inProcess(["unmount", dir])).json.status).toBe("Success");
    expect(mountAt(stage)).toBeUndefined();
    expect(existsSync(stage)).toBe(false);
  });
});

describe("bootstrap in-process", () => {
  test("the operator's VAULT_TOKEN and the token it creates are registered with the scrubber, whatever their shape", async () => {
    // A custom token ID: not shaped like a Vault token, so only registration can keep it out of a message.
    const operator = "operator-custom-id-7f3a9c";
    const made = await vaultCall(w, "POST", "auth/token/create", w.vault.rootToken, { id: operator, policies: ["root"] });
    expect(made.status).toBe(200);
    forgetSecrets();
    expect(scrub(`x ${operator} y`)).toBe(`x ${operator} y`);
    const path = join(mkdtempSync(join(w.root, "bootstrap-")), "vaulttoken");
    const r = await w.inProcess(["bootstrap", "--policy", "applications_token_creator", "--path", path], { ...w.env, VAULT_TOKEN: operator });
    expect(r.exitCode).toBe(0);
    expect(scrub(`x ${operator} y`)).toBe(`x ${REDACTED} y`);
    const created = readFileSync(path, "utf8").trim();
    expect(scrub(`x ${created} y`)).toBe(`x ${REDACTED} y`);
    w.vault.revoke(created);
  });
});
