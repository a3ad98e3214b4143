import { basename, dirname } from "node:path";
import type { DriverConfig, Env } from "./config.ts";
import { DRIVER_DIR_NAME } from "./flex/protocol.ts";
import type { OpRecord } from "./log/oplog.ts";
import { createTmpfs, type Tmpfs } from "./volume/tmpfs.ts";
import { createVaultClient } from "./vault/client.ts";
import { vaultApi, type VaultApi } from "./vault/api.ts";
import { openJournal, type Journal } from "./state/journal.ts";

/** Everything a command may touch from the outside world, injectable for tests. */
export interface Context {
  readonly env: Env;
  readonly now: () => number;
  /** Aborted on SIGTERM/SIGINT so a command can roll back before it answers. */
  readonly signal: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly tmpfs: Tmpfs;
  /** Filled in as the command learns things; `main` writes it to the log once. */
  readonly trace: Trace;
  /** The `<vendor>~<driver>` dir this binary serves; volume dirs of other drivers are never touched. */
  readonly driverDir: string;
}

export type Trace = Partial<Omit<OpRecord, "op" | "result">>;

export function defaultContext(env: Env): Context {
  return { env, now: Date.now, signal: new AbortController().signal, tmpfs: createTmpfs(), trace: {}, driverDir: ownDriverDir(process.execPath) };
}

/**
 * The kubelet runs us as `<plugin-dir>/<vendor>~<driver>/<driver>`, so the
 * binary's own directory names the volume dirs that are ours. Run from
 * anywhere else (tests, a manual call), it is the default name.
 */
export function ownDriverDir(execPath: string): string {
  const parent = basename(dirname(execPath));
  return /^[^~/]+~[^~/]+$/.test(parent) ? parent : DRIVER_DIR_NAME;
}

export interface Services {
  readonly api: VaultApi;
  /** For revoking what a failed mount minted: not tied to the signal, so a SIGTERM still cleans up. */
  readonly rollbackApi: VaultApi;
  readonly journal: Journal;
}

/** How long a rollback revocation may take once the command was interrupted. */
const ROLLBACK_TIMEOUT_MS = 10_000;

export function services(config: DriverConfig, ctx: Context): Services {
  const fetchDep = ctx.fetch ? { fetch: ctx.fetch } : {};
  const client = createVaultClient(config.vault, { ...fetchDep, now: ctx.now, signal: ctx.signal });
  const rollbackConfig = { ...config.vault, timeoutMs: Math.min(config.vault.timeoutMs, ROLLBACK_TIMEOUT_MS), maxRetries: Math.min(config.vault.maxRetries, 1) };
  const rollbackClient = createVaultClient(rollbackConfig, { ...fetchDep, now: ctx.now });
  return { api: vaultApi(client), rollbackApi: vaultApi(rollbackClient), journal: openJournal(config.stateDir) };
}
