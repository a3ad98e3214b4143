import { expect, test } from "bun:test";
import { repeat, sleep } from "./loop.ts";

test("sleep ends as soon as the signal aborts, and at once when it already has", async () => {
  const ctl = new AbortController();
  const started = performance.now();
  setTimeout(() => ctl.abort(), 20);
  await sleep(60_000, ctl.signal);
  expect(performance.now() - started).toBeLessThan(1000);
  const again = performance.now();
  await sleep(60_000, ctl.signal);
  expect(performance.now() - again).toBeLessThan(50);
});

test("sleep waits its time when not aborted", async () => {
  const started = performance.now();
  await sleep(30, new AbortController().signal);
  expect(performance.now() - started).toBeGreaterThanOrEqual(25);
});

test("repeat runs at once, then after each interval; a throwing task is reported and retried; abort ends it", async () => {
  const ctl = new AbortController();
  const runs: number[] = [];
  const errors: string[] = [];
  const done = repeat(
    10,
    ctl.signal,
    async () => {
      runs.push(runs.length);
      if (runs.length === 2) throw new Error("vault down");
      if (runs.length === 4) ctl.abort();
    },
    (err) => errors.push((err as Error).message),
  );
  await done;
  expect(runs).toEqual([0, 1, 2, 3]);
  expect(errors).toEqual(["vault down"]);
});

test("an error caused by the abort itself is not reported", async () => {
  const ctl = new AbortController();
  const errors: unknown[] = [];
  await repeat(10, ctl.signal, async () => {
    ctl.abort();
    throw new Error("aborted");
  }, (err) => errors.push(err));
  expect(errors).toEqual([]);
});
