import { deepEqual, equal } from "node:assert/strict";
import { recordRestart } from "./restart_budget.ts";

const POLICY = { maxRestarts: 3, windowMs: 60_000 };

Deno.test("recordRestart() allows exactly maxRestarts restarts inside the window", () => {
  const verdicts: boolean[] = [];
  let timesMs: readonly number[] = [];
  for (const nowMs of [0, 1000, 2000, 3000, 4000]) {
    const budget = recordRestart(timesMs, nowMs, POLICY);
    verdicts.push(budget.isExhausted);
    timesMs = budget.timesMs;
  }
  deepEqual(verdicts, [false, false, false, true, true]);
  deepEqual(timesMs, [0, 1000, 2000, 3000, 4000]);
});

Deno.test("recordRestart() keeps restarts younger than windowMs and drops those exactly windowMs old", async (t) => {
  const cases: [
    name: string,
    timesMs: number[],
    nowMs: number,
    kept: number[],
    exhausted: boolean,
  ][] = [
    ["all inside", [10_000, 20_000, 30_000], 40_000, [10_000, 20_000, 30_000, 40_000], true],
    [
      "oldest 1 ms inside",
      [10_000, 20_000, 30_000],
      69_999,
      [10_000, 20_000, 30_000, 69_999],
      true,
    ],
    [
      "oldest exactly windowMs old",
      [10_000, 20_000, 30_000],
      70_000,
      [20_000, 30_000, 70_000],
      false,
    ],
    ["all stale", [10_000, 20_000, 30_000], 90_000, [90_000], false],
    ["empty history", [], 5, [5], false],
  ];
  for (const [name, timesMs, nowMs, kept, exhausted] of cases) {
    await t.step(name, () => {
      const budget = recordRestart(timesMs, nowMs, POLICY);
      deepEqual(budget.timesMs, kept);
      equal(budget.isExhausted, exhausted);
    });
  }
});

Deno.test("recordRestart() with maxRestarts 0 is exhausted by the first restart", () => {
  equal(recordRestart([], 0, { maxRestarts: 0, windowMs: 1000 }).isExhausted, true);
});

Deno.test("recordRestart() with windowMs 0 keeps only the current restart", () => {
  const budget = recordRestart([0, 5, 10], 10, { maxRestarts: 1, windowMs: 0 });
  deepEqual(budget.timesMs, [10]);
  equal(budget.isExhausted, false);
});

Deno.test("recordRestart() does not modify the times it is given", () => {
  const timesMs = Object.freeze([1000, 2000]);
  const budget = recordRestart(timesMs, 3000, POLICY);
  deepEqual(timesMs, [1000, 2000]);
  deepEqual(budget.timesMs, [1000, 2000, 3000]);
});
