/**
 * The restart budget: how many restarts happened inside a sliding window, and whether one more is
 * allowed. Pure: time is passed in.
 * @module
 */

/** Restart times kept for the window, and the verdict for one more. */
export interface RestartBudget {
  /** Restart times (ms) still inside the window, oldest first. */
  readonly timesMs: readonly number[];
  /** True when the restarts inside the window exceed `maxRestarts`. */
  readonly isExhausted: boolean;
}

/**
 * Records a restart at `nowMs` and judges the budget: more than `maxRestarts` restarts within
 * `windowMs` exhausts it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * let b = recordRestart([], 0, { maxRestarts: 1, windowMs: 1000 });
 * equal(b.isExhausted, false);
 * b = recordRestart(b.timesMs, 10, { maxRestarts: 1, windowMs: 1000 });
 * equal(b.isExhausted, true);
 * ```
 */
export function recordRestart(
  timesMs: readonly number[],
  nowMs: number,
  policy: { readonly maxRestarts: number; readonly windowMs: number },
): RestartBudget {
  const kept = timesMs.filter((t) => nowMs - t < policy.windowMs);
  kept.push(nowMs);
  return { timesMs: kept, isExhausted: kept.length > policy.maxRestarts };
}
