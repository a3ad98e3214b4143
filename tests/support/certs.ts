/**
 * Test PKI generated with the `openssl` CLI (no npm dependencies).
 *
 * `makeTestPki(dir)` writes, into `dir`:
 *   ca.crt / ca.key           the test CA (EC P-256, 10 years)
 *   other-ca.crt / other-ca.key  an unrelated CA (for "wrong CA" tests)
 *   server.crt / server.key   signed by the CA, SAN DNS:localhost, DNS:vault.test, IP:127.0.0.1
 *   other.crt / other.key     signed by the CA, SAN DNS:other.test only (hostname-mismatch tests)
 *   client.crt / client.key   signed by the CA, clientAuth (mTLS)
 *   capath/ca.crt + capath/<openssl x509 -hash>.0 -> ca.crt   (a hashed CA directory)
 *
 * Idempotent and cached per directory: when every file already exists it is reused.
 * Safe against concurrent callers: the set is generated in a sibling temp directory and
 * moved into place in one rename, so a reader never sees files from two different runs.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join, resolve, basename } from "node:path";

export interface TestPki {
  dir: string;
  caFile: string; caKeyFile: string; otherCaFile: string; otherCaKeyFile: string;
  serverCertFile: string; serverKeyFile: string;
  otherCertFile: string; otherKeyFile: string;
  clientCertFile: string; clientKeyFile: string;
  capath: string; capathHashLink: string;
  /** PEM texts */
  ca: string; caKey: string; otherCa: string;
  serverCert: string; serverKey: string;
  otherCert: string; otherKey: string;
  clientCert: string; clientKey: string;
}

const FILES = ["ca.crt", "ca.key", "other-ca.crt", "other-ca.key", "server.crt", "server.key",
  "other.crt", "other.key", "client.crt", "client.key", "capath/ca.crt"] as const;

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,DNS:vault.test,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[other_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** Runs openssl with an argv array (no shell); throws with stderr on failure. */
async function openssl(args: string[], cwd: string): Promise<string> {
  const proc = Bun.spawn(["openssl", ...args], {
    cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore",
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", OPENSSL_CONF: join(cwd, "openssl.cnf") },
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited,
  ]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${err.trim()}`);
  return out;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function selfSigned(name: string, cn: string): string[] {
  return ["req", "-x509", "-new", "-config", "openssl.cnf", "-extensions", "ca_ext", ...EC,
    "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "3650", "-subj", `/CN=${cn}`];
}

function signed(name: string, cn: string, ext: string): string[] {
  return ["req", "-x509", "-new", "-config", "openssl.cnf", "-extensions", ext, ...EC,
    "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "825", "-subj", `/CN=${cn}`,
    "-CA", "ca.crt", "-CAkey", "ca.key"];
}

async function generate(tmp: string): Promise<void> {
  writeFileSync(join(tmp, "openssl.cnf"), OPENSSL_CNF);
  await Promise.all([
    openssl(selfSigned("ca", "vaulttmpfs test CA"), tmp),
    openssl(selfSigned("other-ca", "unrelated test CA"), tmp),
  ]);
  await Promise.all([
    openssl(signed("server", "vault.test", "server_ext"), tmp),
    openssl(signed("other", "other.test", "other_ext"), tmp),
    openssl(signed("client", "vaulttmpfs test client", "client_ext"), tmp),
  ]);
  const hash = (await openssl(["x509", "-hash", "-noout", "-in", "ca.crt"], tmp)).trim();
  mkdirSync(join(tmp, "capath"));
  copyFileSync(join(tmp, "ca.crt"), join(tmp, "capath", "ca.crt"));
  symlinkSync("ca.crt", join(tmp, "capath", `${hash}.0`));
  rmSync(join(tmp, "openssl.cnf"));
}

function complete(dir: string): boolean {
  return FILES.every((f) => existsSync(join(dir, f))) && hashLink(dir) !== undefined;
}

function hashLink(dir: string): string | undefined {
  try {
    return readdirSync(join(dir, "capath")).find((f) => /^[0-9a-f]{8}\.0$/.test(f));
  } catch {
    return undefined;
  }
}

/** Moves a freshly generated set into `dir` (atomic when `dir` is missing or empty). */
function install(tmp: string, dir: string): void {
  try {
    renameSync(tmp, dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
  }
  if (complete(dir)) return; // a concurrent caller won the race
  // `dir` holds unrelated files: move ours in one by one (capath as a whole).
  for (const f of FILES) if (!f.startsWith("capath/")) renameSync(join(tmp, f), join(dir, f));
  rmSync(join(dir, "capath"), { recursive: true, force: true });
  renameSync(join(tmp, "capath"), join(dir, "capath"));
}

function load(dir: string): TestPki {
  const p = (f: string) => join(dir, f);
  const t = (f: string) => readFileSync(p(f), "utf8");
  const link = hashLink(dir);
  if (link === undefined) throw new Error(`no hashed CA link in ${p("capath")}`);
  return {
    dir,
    caFile: p("ca.crt"), caKeyFile: p("ca.key"), otherCaFile: p("other-ca.crt"), otherCaKeyFile: p("other-ca.key"),
    serverCertFile: p("server.crt"), serverKeyFile: p("server.key"),
    otherCertFile: p("other.crt"), otherKeyFile: p("other.key"),
    clientCertFile: p("client.crt"), clientKeyFile: p("client.key"),
    capath: p("capath"), capathHashLink: join(p("capath"), link),
    ca: t("ca.crt"), caKey: t("ca.key"), otherCa: t("other-ca.crt"),
    serverCert: t("server.crt"), serverKey: t("server.key"),
    otherCert: t("other.crt"), otherKey: t("other.key"),
    clientCert: t("client.crt"), clientKey: t("client.key"),
  };
}

/** Generates (or reuses) the test PKI in `dir`; returns absolute paths and PEM texts. */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const abs = resolve(dir);
  if (complete(abs)) return load(abs);
  mkdirSync(dirname(abs), { recursive: true });
  const tmp = join(dirname(abs), `.${basename(abs)}.tmp-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(tmp, { mode: 0o755 });
  try {
    await generate(tmp);
    install(tmp, abs);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return load(abs);
}
