/**
 * The agent's clock: sleeps that end early when the signal fires, so SIGTERM
 * stops the agent at once instead of after the longest interval.
 */

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs `task` now and then `intervalMs` after each run ends, until `signal`
 * aborts. Fixed delay rather than fixed rate: a slow run (Vault timing out)
 * is never overlapped by the next one. A task that throws is reported and
 * retried at the next tick; the loop itself never dies.
 */
export async function repeat(intervalMs: number, signal: AbortSignal, task: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      await task();
    } catch (err) {
      if (!signal.aborted) onError(err);
    }
    await sleep(intervalMs, signal);
  }
}
