import type { X509Certificate } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, errorMessage } from "../errors.ts";
import { ENV, type VaultConfig } from "../config.ts";

/** The `tls` init of Bun's fetch. */
export interface FetchTls {
  ca?: string[];
  cert?: string;
  key?: string;
  serverName?: string;
  rejectUnauthorized: boolean;
}

/**
 * Reads the CA and client-certificate files named by the config. Always sets
 * `rejectUnauthorized` explicitly so `NODE_TLS_REJECT_UNAUTHORIZED` in the
 * kubelet's environment cannot switch verification off behind our back.
 */
export function loadTls(config: VaultConfig): FetchTls {
  const tls: FetchTls = { rejectUnauthorized: !config.skipVerify };
  if (config.tlsServerName) tls.serverName = config.tlsServerName;
  if (config.ca) tls.ca = loadCa(config.ca);
  if (config.clientCert) Object.assign(tls, loadClientCert(config.clientCert));
  return tls;
}

function loadCa(ca: NonNullable<VaultConfig["ca"]>): string[] {
  if ("pem" in ca) return [ca.pem];
  if ("file" in ca) {
    const pem = readOrFail(ENV.VAULT_CACERT, ca.file);
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(ENV.VAULT_CACERT, `${ca.file} holds no PEM certificate`);
    return [pem];
  }
  let names: string[];
  try {
    names = readdirSync(ca.dir).sort();
  } catch (err) {
    throw new ConfigError(ENV.VAULT_CAPATH, `cannot read directory ${ca.dir}: ${errorMessage(err)}`);
  }
  // Like Go's CAPath loader: every readable file holding a PEM certificate counts; hashed links resolve to the same certs.
  const pems = new Set<string>();
  for (const name of names) {
    const path = join(ca.dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      const text = readFileSync(path, "utf8");
      if (text.includes("-----BEGIN CERTIFICATE-----")) pems.add(text);
    } catch {
      // an unreadable or dangling entry is skipped, as Go does
    }
  }
  if (pems.size === 0) throw new ConfigError(ENV.VAULT_CAPATH, `${ca.dir} holds no PEM certificate`);
  return [...pems];
}

function loadClientCert(files: { certFile: string; keyFile: string }): { cert: string; key: string } {
  const cert = readOrFail(ENV.VAULT_CLIENT_CERT, files.certFile);
  const key = readOrFail(ENV.VAULT_CLIENT_KEY, files.keyFile);
  // Bun reports a key that does not match as "FailedToOpenSocket"; say what is really wrong.
  // node:crypto is loaded here only, for mTLS: importing it costs every kubelet call ~2 ms.
  const { X509Certificate, createPrivateKey } = process.getBuiltinModule("node:crypto");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(ENV.VAULT_CLIENT_CERT, `${files.certFile} is not a PEM certificate: ${errorMessage(err)}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(ENV.VAULT_CLIENT_KEY, `${files.keyFile} is not an unencrypted PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(ENV.VAULT_CLIENT_KEY, `${files.keyFile} does not match the certificate in ${files.certFile}`);
  }
  return { cert, key };
}

function readOrFail(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}
