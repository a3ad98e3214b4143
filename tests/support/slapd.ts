/**
 * A real OpenLDAP `slapd` for one test file: a throwaway slapd.conf and mdb
 * database in a temp dir, loaded offline with slapadd, serving plain LDAP on
 * a free loopback port, with one user in one group. Stopped by killing only
 * the process this helper started (slapd runs in the foreground under -d).
 *
 * Debian's package may also have started a system slapd on :389; nothing
 * here talks to it.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireBinary, stopChild, trackChild } from "./bao.ts";

export const LDAP_SUFFIX = "dc=vaulttmpfs,dc=test";
export const LDAP_ADMIN_DN = `cn=admin,${LDAP_SUFFIX}`;
export const LDAP_USERS_DN = `ou=people,${LDAP_SUFFIX}`;
export const LDAP_GROUPS_DN = `ou=groups,${LDAP_SUFFIX}`;

export interface LdapUser {
  uid: string;
  password: string;
  groups: string[];
}

export interface Slapd {
  /** ldap://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly adminDn: string;
  readonly adminPassword: string;
  readonly users: readonly LdapUser[];
  userDn(uid: string): string;
  groupDn(cn: string): string;
  /** Fields OpenBao's `ldap` auth method needs to search this directory (auth/ldap/config). */
  baoLdapConfig(): Record<string, string | boolean>;
  stop(): Promise<void>;
}

export async function startSlapd(opts: { users?: LdapUser[] } = {}): Promise<Slapd> {
  const slapd = requireBinary("slapd");
  const slapadd = join(slapd, "..", "slapadd");
  const users = opts.users ?? [{ uid: "alice", password: "c0rrect-h0rse-battery", groups: ["k8s-node-admins"] }];
  const adminPassword = `admin-${crypto.randomUUID()}`;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "vaulttmpfs-slapd-"));
    chmodSync(dir, 0o700);
    try {
      return await startOn(slapd, slapadd, dir, freePort(), users, adminPassword);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      lastError = e;
      if (!String(e).includes("Address already in use")) break;
    }
  }
  throw lastError;
}

async function startOn(slapd: string, slapadd: string, dir: string, port: number, users: LdapUser[], adminPassword: string): Promise<Slapd> {
  const dbDir = join(dir, "db");
  mkdirSync(dbDir, { mode: 0o700 });
  const conf = join(dir, "slapd.conf");
  // Cleartext userPassword: simple binds compare it as is; fine for a throwaway directory.
  writeFileSync(conf, `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile ${join(dir, "slapd.pid")}
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "${LDAP_SUFFIX}"
rootdn "${LDAP_ADMIN_DN}"
rootpw ${adminPassword}
directory ${dbDir}
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
`);
  const dn = (uid: string) => `uid=${uid},${LDAP_USERS_DN}`;
  const groups = [...new Set(users.flatMap((u) => u.groups))];
  const ldif = [
    `dn: ${LDAP_SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: vaulttmpfs tests\ndc: vaulttmpfs`,
    `dn: ${LDAP_USERS_DN}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${LDAP_GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups`,
    ...users.map((u) => `dn: ${dn(u.uid)}\nobjectClass: inetOrgPerson\nuid: ${u.uid}\ncn: ${u.uid}\nsn: ${u.uid}\nuserPassword: ${u.password}`),
    ...groups.map((g) => `dn: cn=${g},${LDAP_GROUPS_DN}\nobjectClass: groupOfNames\ncn: ${g}\n${users.filter((u) => u.groups.includes(g)).map((u) => `member: ${dn(u.uid)}`).join("\n")}`),
  ].join("\n\n") + "\n";
  const ldifFile = join(dir, "data.ldif");
  writeFileSync(ldifFile, ldif, { mode: 0o600 });
  const add = Bun.spawnSync([slapadd, "-f", conf, "-l", ldifFile], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  if (add.exitCode !== 0) throw new Error(`slapadd failed (exit ${add.exitCode}): ${add.stderr.toString().trim()}`);

  const url = `ldap://127.0.0.1:${port}`;
  const logFile = join(dir, "slapd.log");
  const fd = openSync(logFile, "w");
  // -d 0: stay in the foreground (our child, killable by pid), log nothing extra.
  const proc = Bun.spawn([slapd, "-d", "0", "-f", conf, "-h", `${url}/`], { cwd: dir, stdin: "ignore", stdout: fd, stderr: fd, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  closeSync(fd);
  trackChild(proc);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const stop = () => stopChild(proc, dir);
  // Ready when the port accepts a connection.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      const text = log();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`slapd exited at start: ${text.trim().slice(-2000)}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      Bun.connect({ hostname: "127.0.0.1", port, socket: { open(s) { s.end(); resolve(true); }, connectError() { resolve(false); }, data() {} } }).catch(() => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`slapd did not listen on ${url} in time`);
    }
    await Bun.sleep(50);
  }
  return {
    url, port, adminDn: LDAP_ADMIN_DN, adminPassword, users,
    userDn: dn,
    groupDn: (cn) => `cn=${cn},${LDAP_GROUPS_DN}`,
    baoLdapConfig: () => ({
      url,
      binddn: LDAP_ADMIN_DN,
      bindpass: adminPassword,
      userdn: LDAP_USERS_DN,
      userattr: "uid",
      groupdn: LDAP_GROUPS_DN,
      groupattr: "cn",
      groupfilter: "(&(objectClass=groupOfNames)(member={{.UserDN}}))",
      insecure_tls: false,
      starttls: false,
    }),
    stop,
  };
}
