/**
 * Restart delays: exponential, capped, overflow-safe, with optional jitter. Pure: randomness is
 * passed in.
 * @module
 */

/** Backoff settings in milliseconds. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Fraction of the delay added or removed at random, 0..1. @default {0} */
  readonly jitter?: number;
}

/**
 * Delay before restart number `attempt` (1-based count of consecutive crashes). The first restart
 * is immediate; then base, 2×base, 4×base … capped at `maxMs`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const p = { baseMs: 1000, maxMs: 60000 };
 * deepEqual([1, 2, 3, 4, 50].map((n) => backoffDelayMs(n, p)), [0, 1000, 2000, 4000, 60000]);
 * ```
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random = 0.5): number {
  if (attempt <= 1) return 0;
  const exponent = Math.min(attempt - 2, 52);
  const raw = Math.min(policy.baseMs * 2 ** exponent, policy.maxMs);
  const jitter = policy.jitter ?? 0;
  if (jitter <= 0) return raw;
  const spread = raw * jitter * (random * 2 - 1);
  return Math.max(0, Math.min(policy.maxMs, Math.round(raw + spread)));
}
