/**
 * The auto-create gate: may a request for a never-seen id create that instance? Checks the
 * service's switch, its allow list, its total limit and its per-minute limit. Pure: time is passed
 * in.
 * @module
 */

/** The auto-create settings of a service. */
export interface AutoCreateRules {
  readonly autoCreate: boolean;
  /** When non-empty, only these ids may be created. */
  readonly autoCreateAllow: readonly string[];
  /** At most this many instances created by requests. */
  readonly autoCreateLimit: number;
  /** At most this many created per minute. */
  readonly autoCreatePerMinute: number;
}

/** What the gate has seen so far. */
export interface AutoCreateHistory {
  /** Instances of the service created by requests so far. */
  readonly createdCount: number;
  /** When the service's recent request-created instances were created. */
  readonly createdAtMs: readonly number[];
  readonly nowMs: number;
}

/** The gate's verdict. */
export type AutoCreateVerdict =
  /** Create it; `createdAtMs` is the history to keep (the last minute, now included). */
  | { readonly kind: "allowed"; readonly createdAtMs: number[] }
  /** Auto-create is off, or the id is not on the allow list. */
  | { readonly kind: "not_allowed" }
  /** `auto_create_limit` instances were already created this way. */
  | { readonly kind: "limit_reached"; readonly createdCount: number }
  /** `auto_create_per_minute` was reached; retry later. */
  | { readonly kind: "rate_limited" };

/** The window of `auto_create_per_minute`. */
export const AUTO_CREATE_WINDOW_MS = 60_000;

/**
 * Applies the auto-create rules to a request for id `id`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const rules = { autoCreate: true, autoCreateAllow: [], autoCreateLimit: 10,
 *   autoCreatePerMinute: 1 };
 * const first = judgeAutoCreate(rules, "a", { createdCount: 0, createdAtMs: [], nowMs: 0 });
 * equal(first.kind, "allowed");
 * equal(judgeAutoCreate(rules, "b", { createdCount: 1, createdAtMs: [0], nowMs: 10 }).kind,
 *   "rate_limited");
 * ```
 */
export function judgeAutoCreate(
  rules: AutoCreateRules,
  id: string,
  history: AutoCreateHistory,
): AutoCreateVerdict {
  if (!rules.autoCreate) return { kind: "not_allowed" };
  if (rules.autoCreateAllow.length > 0 && !rules.autoCreateAllow.includes(id)) {
    return { kind: "not_allowed" };
  }
  if (history.createdCount >= rules.autoCreateLimit) {
    return { kind: "limit_reached", createdCount: history.createdCount };
  }
  const recent = history.createdAtMs.filter((t) => history.nowMs - t < AUTO_CREATE_WINDOW_MS);
  if (recent.length >= rules.autoCreatePerMinute) return { kind: "rate_limited" };
  recent.push(history.nowMs);
  return { kind: "allowed", createdAtMs: recent };
}
