/**
 * When to renew a certificate and when to retry after a failed attempt: renewal at two thirds of
 * the lifetime, retries with exponential backoff that never lets a certificate expire unretried.
 * Pure: time comes in as arguments.
 * @module
 */

/** The validity window of a certificate, in epoch milliseconds. */
export interface Validity {
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

/** Longest pause between two attempts. */
export const MAX_RETRY_DELAY_MS = 24 * 3_600_000;
/** First retry after a failure while a certificate is still served (capped by lifetime/16). */
export const FIRST_RETRY_DELAY_MS = 3_600_000;
/** First retry while no certificate exists yet: the name has no HTTPS at all meanwhile. */
export const FIRST_RETRY_DELAY_MISSING_MS = 60_000;

/**
 * When renewal is due: `notBefore` plus two thirds of the lifetime (day 60 of a 90-day
 * certificate).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const day = 86_400_000;
 * equal(renewalDueMs({ notBeforeMs: 0, notAfterMs: 90 * day }), 60 * day);
 * ```
 */
export function renewalDueMs(validity: Validity): number {
  const lifetimeMs = Math.max(0, validity.notAfterMs - validity.notBeforeMs);
  return validity.notBeforeMs + Math.floor(lifetimeMs * 2 / 3);
}

/** The first retry delay: min(1 h, lifetime/16) with a certificate, 1 min without one. */
export function firstRetryDelayMs(validity: Validity | undefined): number {
  if (validity === undefined) return FIRST_RETRY_DELAY_MISSING_MS;
  const lifetimeMs = Math.max(0, validity.notAfterMs - validity.notBeforeMs);
  return Math.max(1_000, Math.min(FIRST_RETRY_DELAY_MS, Math.floor(lifetimeMs / 16)));
}

/**
 * When to try again after `failures` consecutive failed attempts (1 after the first): the first
 * delay, doubling, capped at 24 h, and never later than one first-delay before the served
 * certificate expires (so an expiring certificate is still retried in time).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const day = 86_400_000;
 * const cert = { notBeforeMs: 0, notAfterMs: 90 * day };
 * deepEqual([1, 2, 3, 9].map((n) => retryAtMs(60 * day, n, cert) - 60 * day),
 *   [3_600_000, 7_200_000, 14_400_000, 86_400_000]);
 * ```
 */
export function retryAtMs(nowMs: number, failures: number, validity: Validity | undefined): number {
  const firstMs = firstRetryDelayMs(validity);
  const exponent = Math.min(Math.max(0, failures - 1), 52);
  const delayMs = Math.min(firstMs * 2 ** exponent, MAX_RETRY_DELAY_MS);
  const atMs = nowMs + delayMs;
  if (validity === undefined) return atMs;
  const latestMs = validity.notAfterMs - firstMs;
  if (atMs <= latestMs) return atMs;
  // Past the latest useful point: retry at it, or soon when it has already gone by.
  return Math.max(latestMs, nowMs + Math.min(delayMs, Math.max(1_000, Math.floor(firstMs / 4))));
}
