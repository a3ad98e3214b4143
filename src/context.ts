import type { DriverConfig, Env } from "./config.ts";
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
}

export type Trace = Partial<Omit<OpRecord, "op" | "result">>;

export function defaultContext(env: Env): Context {
  return { env, now: Date.now, signal: new AbortController().signal, tmpfs: createTmpfs(), trace: {} };
}

export interface Services {
  readonly api: VaultApi;
  readonly journal: Journal;
}

export function services(config: DriverConfig, ctx: Context): Services {
  const client = createVaultClient(config.vault, { ...(ctx.fetch ? { fetch: ctx.fetch } : {}), now: ctx.now, signal: ctx.signal });
  return { api: vaultApi(client), journal: openJournal(config.stateDir) };
}
