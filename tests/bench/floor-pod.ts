/**
 * Floor (b) of `npm run bench`: a pod's mandatory work, in one compiled Bun
 * process with no structure around it. `mount <dir> <json>` and `unmount
 * <dir>` do exactly the I/O the driver must do, in the same order, with the
 * same environment, and nothing else: no validation, no mount-table checks,
 * no error handling, no renewal check, no rollback.
 *   mount:   flock the volume lock; read the generator token and the CA; POST
 *            auth/token/create/<role> (wrapped) over TLS; journal entry (temp,
 *            fsync, rename, fsync dir); staging dir; spawn mount -t tmpfs;
 *            the two files (temp + rename); spawn mount --move; rmdir staging;
 *            one log line; one JSON line.
 *   unmount: flock the volume lock; spawn umount; rmdir the dir; read the
 *            journal entry and the generator token; POST revoke-accessor;
 *            unlink the entry; one log line; one JSON line.
 * Bench code only: never shipped, never run by the kubelet.
 */
import { dlopen, FFIType } from "bun:ffi";
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeSync } from "node:fs";

const env = process.env;
const [op, dir = "", json = "{}"] = process.argv.slice(2);
const stateDir = env.VAULTTMPFS_STATE_DIR!;
const parts = dir.split("/");
const key = `${parts.at(-4)}_${parts.at(-1)}`;
const libc = dlopen("libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
const lockFd = openSync(`${stateDir}/locks/${key}.lock`, "a", 0o600);
libc.symbols.flock(lockFd, 2);
const spawnEnv = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
const run = async (argv: string[]) => {
  const child = Bun.spawn(argv, { env: spawnEnv, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
};
const vault = (path: string, body: unknown, wrap?: string) =>
  fetch(`${env.VAULT_ADDR}/v1/${path}`, {
    method: "POST",
    headers: { "X-Vault-Request": "true", "X-Vault-Token": readFileSync(env.VAULTTMPFS_GENERATOR_TOKEN_PATH!, "utf8").trim(), ...(wrap ? { "X-Vault-Wrap-TTL": wrap } : {}) },
    body: JSON.stringify(body),
    tls: { ca: [readFileSync(env.VAULT_CACERT!, "utf8")], rejectUnauthorized: true },
  } as RequestInit).then((r) => r.text());
const entryPath = `${stateDir}/volumes/${key}.json`;
const log = (o: object) => appendFileSync(env.VAULTTMPFS_LOG_FILE!, `${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...o })}\n`, { mode: 0o640 });
const writeFile = (path: string, data: string, durable: boolean) => {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "wx", 0o600);
  writeSync(fd, data);
  if (durable) fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, path);
  if (durable) {
    const d = openSync(`${stateDir}/volumes`, "r");
    fsyncSync(d);
    closeSync(d);
  }
};

if (op === "mount") {
  const opts = JSON.parse(json) as Record<string, string>;
  const res = JSON.parse(await vault("auth/token/create/applications", { policies: opts["vault/policies"]!.split(","), meta: { poduid: opts["kubernetes.io/pod.uid"] } }, "5m"));
  writeFile(entryPath, `${JSON.stringify({ podUid: opts["kubernetes.io/pod.uid"], accessor: res.wrap_info.wrapped_accessor })}\n`, true);
  const stage = `${stateDir}/staging/${key}`;
  mkdirSync(stage, { mode: 0o700 });
  await run(["/usr/bin/mount", "-t", "tmpfs", "-o", "nodev,nosuid,noexec,noatime,size=1m,mode=0755", "vaulttmpfs", stage]);
  writeFile(`${stage}/vault-token.json`, `${JSON.stringify(res.wrap_info, null, 2)}\n`, false);
  writeFile(`${stage}/vault-token`, res.wrap_info.token, false);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  await run(["/usr/bin/mount", "--move", stage, dir]);
  rmdirSync(stage);
  log({ op: "mount", result: "success", dir, accessor: res.wrap_info.wrapped_accessor });
} else {
  await run(["/usr/bin/umount", dir]);
  rmdirSync(dir);
  const entry = JSON.parse(readFileSync(entryPath, "utf8")) as { accessor: string };
  await vault("auth/token/revoke-accessor", { accessor: entry.accessor });
  unlinkSync(entryPath);
  log({ op: "unmount", result: "success", dir, accessor: entry.accessor });
}
writeSync(1, '{"status":"Success"}\n');
