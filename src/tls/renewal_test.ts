import { deepEqual, equal, ok } from "node:assert/strict";
import {
  firstRetryDelayMs,
  MAX_RETRY_DELAY_MS,
  renewalDueMs,
  retryAtMs,
  type Validity,
} from "./renewal.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;

Deno.test("renewalDueMs() is two thirds into the lifetime", () => {
  equal(renewalDueMs({ notBeforeMs: 1_000, notAfterMs: 1_000 + 90 * DAY }), 1_000 + 60 * DAY);
  equal(renewalDueMs({ notBeforeMs: 0, notAfterMs: 30_000 }), 20_000);
  // A broken window (notAfter before notBefore) renews at once rather than never.
  equal(renewalDueMs({ notBeforeMs: 5_000, notAfterMs: 1_000 }), 5_000);
});

Deno.test("firstRetryDelayMs() is min(1 h, lifetime/16), 1 min without a certificate", () => {
  equal(firstRetryDelayMs({ notBeforeMs: 0, notAfterMs: 90 * DAY }), HOUR);
  equal(firstRetryDelayMs({ notBeforeMs: 0, notAfterMs: 32_000 }), 2_000);
  equal(firstRetryDelayMs({ notBeforeMs: 0, notAfterMs: 100 }), 1_000);
  equal(firstRetryDelayMs(undefined), 60_000);
});

Deno.test("retryAtMs() doubles from the first delay and caps at 24 h", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 100].map((n) => retryAtMs(0, n, undefined));
  deepEqual(delays, [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_840_000, DAY]);
  const cert: Validity = { notBeforeMs: 0, notAfterMs: 365 * DAY };
  const now = 200 * DAY;
  deepEqual([1, 2, 5, 6, 1000].map((n) => retryAtMs(now, n, cert) - now), [
    HOUR,
    2 * HOUR,
    16 * HOUR,
    MAX_RETRY_DELAY_MS,
    MAX_RETRY_DELAY_MS,
  ]);
});

Deno.test("retryAtMs() never schedules past the point where the certificate expires unretried", () => {
  const cert: Validity = { notBeforeMs: 0, notAfterMs: 90 * DAY };
  for (let failures = 1; failures < 60; failures++) {
    for (const now of [60 * DAY, 85 * DAY, 89 * DAY, 90 * DAY - 2 * HOUR, 90 * DAY - 10_000]) {
      const at = retryAtMs(now, failures, cert);
      ok(at > now, `${failures} failures at ${now}: ${at} is not in the future`);
      ok(at <= Math.max(90 * DAY - HOUR, now + HOUR / 4), `${failures} failures at ${now}: ${at}`);
    }
  }
  // A short test certificate (40 s) retries every few seconds, inside its lifetime.
  const short: Validity = { notBeforeMs: 0, notAfterMs: 40_000 };
  deepEqual([1, 2, 3, 4].map((n) => retryAtMs(27_000, n, short)), [29_500, 32_000, 37_000, 37_500]);
});
