/**
 * The idle rule for scale-to-zero. Pure: time is passed in.
 * @module
 */

/** What the idle rule looks at. */
export interface IdleInputs {
  readonly lastActivityMs: number;
  readonly nowMs: number;
  /** 0 or less: never idle. */
  readonly idleTimeoutMs: number;
  /** Requests, streamed responses and upgraded connections in flight. */
  readonly activeRequests: number;
}

/**
 * True when an instance has had no traffic for its idle timeout and nothing is in flight.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(isIdle({ lastActivityMs: 0, nowMs: 5000, idleTimeoutMs: 5000, activeRequests: 0 }), true);
 * equal(isIdle({ lastActivityMs: 0, nowMs: 5000, idleTimeoutMs: 5000, activeRequests: 1 }), false);
 * ```
 */
export function isIdle(s: IdleInputs): boolean {
  if (s.idleTimeoutMs <= 0 || s.activeRequests > 0) return false;
  return s.nowMs - s.lastActivityMs >= s.idleTimeoutMs;
}
