/**
 * The restart policy: what follows a run that ended without anyone asking (restart after a
 * backoff, stay stopped, or fail for exhausting the restart budget), with the reason as data and
 * one function that words it. Pure: time and randomness are passed in.
 * @module
 */
import { backoffDelayMs, type BackoffPolicy } from "./backoff.ts";
import type { ExitInfo } from "./lifecycle.ts";
import { recordRestart } from "./restart_budget.ts";

/** The restart rules that apply to one service. */
export interface RestartRules {
  readonly restart: "always" | "on-failure" | "never";
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly backoff: BackoffPolicy;
}

/** How a run ended without anyone asking for it. */
export type RunEnd =
  /** The process exited on its own. */
  | { readonly kind: "exited"; readonly exit: ExitInfo; readonly lastStderr: string }
  /** The process could not be started (the message says why). */
  | { readonly kind: "start_failed"; readonly message: string }
  /** The supervisor stopped it after failed health checks (the message says how). */
  | { readonly kind: "unhealthy"; readonly message: string };

/** Why an instance stays stopped, backs off or has failed, as data; see {@link describeEndReason}. */
export interface EndReason {
  readonly end: RunEnd;
  /** The restart policy that keeps it stopped. */
  readonly policy?: "never" | "on-failure";
  /** The restart budget it has exhausted. */
  readonly budget?: { readonly maxRestarts: number; readonly windowMs: number };
}

/** What the supervisor should do after an unplanned end of a run. */
export type ExitDecision =
  | {
    readonly kind: "restart";
    readonly reason: EndReason;
    readonly delayMs: number;
    readonly restartTimesMs: number[];
  }
  | { readonly kind: "stay_stopped"; readonly reason: EndReason }
  | {
    readonly kind: "failed";
    readonly reason: EndReason;
    readonly retryDelayMs: number;
    readonly restartTimesMs: number[];
  };

/**
 * Describes an exit for people: `exited with code 3`, `killed by SIGKILL`, with the last stderr
 * line when there is one; `out of memory (memory_limit_mb = 64)` when the OOM killer ended it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(describeExit({ code: 3, signal: null }, "no db"), 'exited with code 3 (last stderr: "no db")');
 * equal(describeExit({ code: null, signal: "SIGKILL", oom: { memoryLimitMb: 64 } }),
 *   "out of memory (memory_limit_mb = 64)");
 * ```
 */
export function describeExit(exit: ExitInfo, lastStderr?: string): string {
  // The app's last words are about what it was doing, not why it died: the kernel killed it.
  if (exit.oom) return `out of memory (memory_limit_mb = ${exit.oom.memoryLimitMb})`;
  const how = exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const tail = lastStderr?.trim();
  return tail ? `${how} (last stderr: ${JSON.stringify(tail.slice(0, 200))})` : how;
}

/**
 * Renders an end reason, the one place its words are made: the end itself, then the rule that
 * keeps the instance down, if any.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const end = { kind: "exited" as const, exit: { code: 1, signal: null }, lastStderr: "" };
 * equal(describeEndReason({ end, budget: { maxRestarts: 3, windowMs: 60000 } }),
 *   "exited with code 1; more than 3 restarts in 60s");
 * ```
 */
export function describeEndReason(reason: EndReason): string {
  const { end } = reason;
  const what = end.kind === "exited" ? describeExit(end.exit, end.lastStderr) : end.message;
  if (reason.budget) {
    return `${what}; more than ${reason.budget.maxRestarts} restarts in ${
      Math.round(reason.budget.windowMs / 1000)
    }s`;
  }
  if (reason.policy === "never") return `${what}; restart = "never"`;
  if (reason.policy === "on-failure") return `${what}; restart = "on-failure" skips clean exits`;
  return what;
}

/** True when the exit counts as a failure for `restart = "on-failure"`. */
export function isFailureExit(exit: ExitInfo): boolean {
  return exit.signal !== null || exit.code !== 0;
}

/** The restart history an exit decision looks at. */
export interface RestartHistory {
  /** Consecutive unplanned ends including this one (1 for the first). */
  readonly crashCount: number;
  readonly restartTimesMs: readonly number[];
  readonly nowMs: number;
  readonly random: number;
}

/**
 * The restart policy: decides what follows an end of a run nobody asked for. A start failure
 * counts as a failed exit; an instance stopped for failing its health checks is always restarted
 * (within the budget).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const rules = { restart: "on-failure" as const, maxRestarts: 3, restartWindowMs: 60000,
 *   backoff: { baseMs: 1000, maxMs: 8000 } };
 * const end = { kind: "exited" as const, exit: { code: 0, signal: null }, lastStderr: "" };
 * equal(decideAfterEnd(end, { crashCount: 1, restartTimesMs: [], nowMs: 0, random: 0.5 }, rules)
 *   .kind, "stay_stopped");
 * ```
 */
export function decideAfterEnd(
  end: RunEnd,
  history: RestartHistory,
  rules: RestartRules,
): ExitDecision {
  const restart = end.kind === "unhealthy" ? "always" : rules.restart;
  const isFailure = end.kind !== "exited" || isFailureExit(end.exit);
  // A start failure states its own cause; the policy words are added only to exits.
  const policyNote = end.kind === "exited" ? { policy: restart as "never" | "on-failure" } : {};
  if (restart === "never") return { kind: "stay_stopped", reason: { end, ...policyNote } };
  if (restart === "on-failure" && !isFailure) {
    return { kind: "stay_stopped", reason: { end, ...policyNote } };
  }
  const budget = recordRestart(history.restartTimesMs, history.nowMs, {
    maxRestarts: rules.maxRestarts,
    windowMs: rules.restartWindowMs,
  });
  if (budget.isExhausted) {
    return {
      kind: "failed",
      reason: { end, budget: { maxRestarts: rules.maxRestarts, windowMs: rules.restartWindowMs } },
      retryDelayMs: rules.backoff.maxMs,
      restartTimesMs: [...budget.timesMs],
    };
  }
  return {
    kind: "restart",
    reason: { end },
    delayMs: backoffDelayMs(history.crashCount, rules.backoff, history.random),
    restartTimesMs: [...budget.timesMs],
  };
}
