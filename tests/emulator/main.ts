/**
 * Standalone Vault emulator for demos and benchmarks.
 *
 *   bun tests/emulator/main.ts --pki-dir DIR [--port N] [--hostname H] [--state-file FILE] [--vault-version V]
 *
 * Starts the emulator over TLS with DIR's server certificate (generated when missing), seeds
 * the `applications` role and a periodic orphan generator token, prints ONE JSON line
 * `{"url","caFile","rootToken","generatorToken"}` on stdout (also written to --state-file,
 * mode 0600, removed again on shutdown) and serves until SIGTERM/SIGINT.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { makeTestPki } from "../support/certs.ts";
import { VaultEmulator, type VaultVersion } from "./index.ts";

interface Args {
  pkiDir: string;
  port: number;
  hostname: string;
  stateFile: string | undefined;
  version: VaultVersion;
}

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: bun tests/emulator/main.ts --pki-dir DIR [--port N] [--hostname H] [--state-file FILE] [--vault-version 1.14.8|1.17.0|openbao-2.6.2]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const out: Partial<Args> = { port: 0, hostname: "127.0.0.1", stateFile: undefined, version: "1.17.0" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) usage(`missing value for ${flag}`);
    i++;
    switch (flag) {
      case "--pki-dir": out.pkiDir = value; break;
      case "--port": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`invalid --port ${JSON.stringify(value)}`);
        out.port = n;
        break;
      }
      case "--hostname": out.hostname = value; break;
      case "--state-file": out.stateFile = value; break;
      case "--vault-version":
        if (value !== "1.14.8" && value !== "1.17.0" && value !== "openbao-2.6.2") usage(`invalid --vault-version ${JSON.stringify(value)}`);
        out.version = value;
        break;
      default: usage(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  if (out.pkiDir === undefined) usage("--pki-dir is required");
  return out as Args;
}

function writeStateFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", 0o600);
  try { writeSync(fd, text); } finally { closeSync(fd); }
  renameSync(tmp, path);
}

const args = parseArgs(process.argv.slice(2));
const pki = await makeTestPki(args.pkiDir);
const vault = await VaultEmulator.start({
  tls: { cert: pki.serverCert, key: pki.serverKey }, hostname: args.hostname, port: args.port, version: args.version,
});
vault.writeRole("applications", {
  allowed_policies: ["app", "app-read", "shared-read"], disallowed_policies: ["root", "admin"],
  orphan: true, renewable: true, token_period: 3600,
});
const generator = vault.createToken({
  policies: ["applications_token_creator"], period: 86400, orphan: true, renewable: true, displayName: "generator",
});
const line = JSON.stringify({ url: vault.url, caFile: pki.caFile, rootToken: vault.rootToken, generatorToken: generator.token });
if (args.stateFile !== undefined) writeStateFile(args.stateFile, `${line}\n`);
console.log(line);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await vault.stop();
  if (args.stateFile !== undefined) rmSync(args.stateFile, { force: true });
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
