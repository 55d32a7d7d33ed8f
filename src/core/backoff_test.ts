import { deepEqual, equal, ok } from "node:assert/strict";
import { backoffDelayMs, type BackoffPolicy } from "./backoff.ts";

const POLICY: BackoffPolicy = { baseMs: 1000, maxMs: 60_000 };

Deno.test("backoffDelayMs() restarts the first crash at once, then doubles from baseMs", () => {
  const cases: [attempt: number, delayMs: number][] = [
    [-5, 0],
    [0, 0],
    [1, 0],
    [2, 1000],
    [3, 2000],
    [4, 4000],
    [5, 8000],
    [6, 16_000],
    [7, 32_000],
    [8, 60_000],
    [9, 60_000],
  ];
  for (const [attempt, delayMs] of cases) {
    equal(backoffDelayMs(attempt, POLICY), delayMs, `attempt ${attempt}`);
  }
});

Deno.test("backoffDelayMs() never decreases as attempts grow", () => {
  let previous = -1;
  for (let attempt = 0; attempt <= 200; attempt++) {
    const delayMs = backoffDelayMs(attempt, POLICY);
    ok(delayMs >= previous, `attempt ${attempt}: ${delayMs} < ${previous}`);
    previous = delayMs;
  }
});

Deno.test("backoffDelayMs() stays finite and capped for huge attempt counts", () => {
  const attempts = [53, 54, 1024, 1025, 10_000, 1e9, Number.MAX_SAFE_INTEGER, Infinity];
  for (const attempt of attempts) {
    equal(backoffDelayMs(attempt, POLICY), 60_000, `attempt ${attempt}`);
  }
  // A base so large that base × 2^52 overflows to Infinity is still capped.
  equal(backoffDelayMs(10_000, { baseMs: 1e300, maxMs: 5000 }), 5000);
  equal(backoffDelayMs(10_000, { baseMs: 1e300, maxMs: 5000, jitter: 0.5 }, 0), 2500);
});

Deno.test("backoffDelayMs() ignores random when jitter is 0, negative or absent", () => {
  for (const jitter of [undefined, 0, -0.5]) {
    const policy: BackoffPolicy = jitter === undefined ? POLICY : { ...POLICY, jitter };
    deepEqual(
      [0, 0.25, 0.999].map((random) => backoffDelayMs(3, policy, random)),
      [2000, 2000, 2000],
      `jitter ${jitter}`,
    );
  }
});

Deno.test("backoffDelayMs() spreads by ±jitter around the raw delay", () => {
  const policy: BackoffPolicy = { ...POLICY, jitter: 0.5 };
  const cases: [random: number, delayMs: number][] = [
    [0, 1000],
    [0.25, 1500],
    [0.5, 2000],
    [0.75, 2500],
    [0.9999999, 3000],
  ];
  for (const [random, delayMs] of cases) {
    equal(backoffDelayMs(3, policy, random), delayMs, `random ${random}`);
  }
});

Deno.test("backoffDelayMs() with jitter stays within [raw × (1 − jitter), min(raw × (1 + jitter), maxMs)]", () => {
  for (const jitter of [0.1, 0.5, 1]) {
    const policy: BackoffPolicy = { ...POLICY, jitter };
    for (let attempt = 2; attempt <= 12; attempt++) {
      const raw = backoffDelayMs(attempt, POLICY);
      for (let i = 0; i < 100; i++) {
        const delayMs = backoffDelayMs(attempt, policy, i / 100);
        ok(Number.isInteger(delayMs), `${delayMs} is not whole`);
        ok(delayMs >= Math.floor(raw * (1 - jitter)), `${delayMs} below range of ${raw}`);
        ok(delayMs <= Math.min(raw * (1 + jitter), policy.maxMs), `${delayMs} above ${raw}`);
      }
    }
  }
});

Deno.test("backoffDelayMs() with jitter never goes below 0 or above maxMs", () => {
  const policy: BackoffPolicy = { baseMs: 1000, maxMs: 60_000, jitter: 3 };
  equal(backoffDelayMs(3, policy, 0), 0);
  equal(backoffDelayMs(3, policy, 0.75), 5000);
  equal(backoffDelayMs(10_000, policy, 0.9999), 60_000);
  equal(backoffDelayMs(10_000, policy, 0), 0);
});
