/**
 * `BENCH_BAO=1 npm run bench`: the same pod lives against a real OpenBao
 * (tests/support/bao.ts: `bao server`, in-memory storage, TLS on loopback),
 * set up as the README's "Vault setup" says: the generator policy from
 * policies/, the `applications` role, an orphan periodic generator token.
 * Driver and floor (b) alternate, as against the emulator.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBao } from "../support/bao.ts";
import { goJson, Kubelet } from "../support/kubelet.ts";

interface Call { ms: number; ok: boolean; out: string }
type Env = Record<string, string>;

export interface BaoBenchOptions {
  readonly binary: string;
  readonly floor: string;
  readonly root: string;
  readonly cycles: number;
  readonly exec: (argv: string[], env: Env) => Promise<Call>;
  readonly must: (what: string, c: Call) => Call;
  readonly p50: (xs: number[]) => number;
}

export async function benchBao(o: BaoBenchOptions): Promise<{ lines: string[]; raw: Record<string, unknown> }> {
  const bao = await startBao();
  try {
    const ok = async (what: string, r: Promise<{ status: number; json: any }>) => {
      const res = await r;
      if (res.status >= 300) throw new Error(`OpenBao ${what}: ${res.status} ${JSON.stringify(res.json)}`);
      return res.json;
    };
    const root = { token: bao.rootToken };
    const policy = readFileSync(join(import.meta.dir, "..", "..", "policies", "token_generator_policy.hcl"), "utf8");
    await ok("policy", bao.api("PUT", "sys/policies/acl/applications_token_creator", { ...root, body: { policy } }));
    await ok("role", bao.api("POST", "auth/token/roles/applications", { ...root, body: { allowed_policies: "app", orphan: true, renewable: true, token_period: "1h" } }));
    const gen = await ok("generator", bao.api("POST", "auth/token/create-orphan", { ...root, body: { policies: ["applications_token_creator"], period: "24h" } }));
    const dir = join(o.root, "bao");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "token"), gen.auth.client_token, { mode: 0o600 });
    const env: Env = {
      PATH: "/usr/bin:/bin", VAULT_ADDR: bao.addr, VAULT_CACERT: bao.caFile, VAULTTMPFS_GENERATOR_TOKEN_PATH: join(dir, "token"),
      VAULTTMPFS_STATE_DIR: join(dir, "state"), VAULTTMPFS_LOG_FILE: join(dir, "log"), VAULTTMPFS_NODE_NAME: "bench",
    };
    const kubelet = new Kubelet(join(dir, "kubelet"), env);
    const pod = () => {
      const uid = crypto.randomUUID();
      const d = kubelet.volumeDir(uid);
      mkdirSync(d, { recursive: true, mode: 0o750 });
      return { d, json: goJson(kubelet.mountOptions({ uid }, { "vault/policies": "app" })) };
    };
    const t = { mount: [] as number[], unmount: [] as number[], floorMount: [] as number[], floorUnmount: [] as number[] };
    const accessors: string[] = [];
    const life = async (bin: string, m: number[] | undefined, u: number[] | undefined) => {
      const p = pod();
      const mounted = o.must(`OpenBao mount (${bin})`, await o.exec([bin, "mount", p.d, p.json], env));
      accessors.push(JSON.parse(readFileSync(join(p.d, "vault-token.json"), "utf8")).wrapped_accessor);
      const unmounted = o.must(`OpenBao unmount (${bin})`, await o.exec([bin, "unmount", p.d], env));
      m?.push(mounted.ms);
      u?.push(unmounted.ms);
    };
    for (let i = 0; i < 3; i++) {
      await life(o.binary, undefined, undefined); // the first makes the state dir and the private staging root
      await life(o.floor, undefined, undefined);
    }
    for (let i = 0; i < o.cycles; i++) {
      const driver = () => life(o.binary, t.mount, t.unmount);
      const floor = () => life(o.floor, t.floorMount, t.floorUnmount);
      if (i % 2 === 0) await driver().then(floor);
      else await floor().then(driver);
    }
    let live = 0;
    for (const accessor of accessors) {
      const r = await bao.api("POST", "auth/token/lookup-accessor", { ...root, body: { accessor } });
      if (r.status === 200) live++;
    }
    const row = (call: string, d: number[], f: number[]) =>
      `${call.padEnd(8)} ${o.p50(d).toFixed(1).padStart(7)}   (b) ${o.p50(f).toFixed(1).padStart(7)}   ${(o.p50(d) / o.p50(f)).toFixed(2).padStart(5)}`;
    return {
      lines: [
        `against OpenBao ${await baoVersion(bao.binary)} (bao server, in-memory storage, TLS on loopback), ${o.cycles} cycles:`,
        `${"call".padEnd(8)} ${"p50 ms".padStart(7)}   floor ${"p50 ms".padStart(5)}   ratio`,
        row("mount", t.mount, t.floorMount),
        row("unmount", t.unmount, t.floorUnmount),
        `pod tokens still alive in OpenBao after their unmount: ${live} of ${accessors.length}`,
      ],
      raw: { timingsMs: t, liveTokensLeft: live, lifecycles: accessors.length },
    };
  } finally {
    await bao.stop();
  }
}

async function baoVersion(binary: string): Promise<string> {
  const child = Bun.spawn([binary, "version"], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const out = await new Response(child.stdout).text();
  await child.exited;
  return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? "unknown version";
}
