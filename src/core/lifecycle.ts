/**
 * The lifecycle decisions of an instance as pure functions: what to do when its process exits on
 * its own, and how a health probe result moves its health. The supervisor carries the decisions
 * out. Pure: time and randomness are passed in.
 * @module
 */
import { backoffDelayMs, type BackoffPolicy } from "./backoff.ts";
import { recordRestart } from "./restart_budget.ts";

/** What `ten ps` shows of an instance's life. */
export type InstanceStatus =
  | "starting"
  | "running"
  | "stopping"
  | "backoff"
  | "failed"
  | "asleep"
  | "stopped";

/** Every status, in display order. */
export const INSTANCE_STATUSES: readonly InstanceStatus[] = [
  "starting",
  "running",
  "stopping",
  "backoff",
  "failed",
  "asleep",
  "stopped",
];

/** Health words of the original interface. */
export type Health = "unknown" | "healthy" | "degraded" | "unhealthy" | "failed";

/** How a process ended. */
export interface ExitInfo {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: string | null;
}

/** The restart rules that apply to one service. */
export interface RestartRules {
  readonly restart: "always" | "on-failure" | "never";
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly backoff: BackoffPolicy;
}

/** What the supervisor should do after an unplanned exit. */
export type ExitDecision =
  | { readonly kind: "restart"; readonly delayMs: number; readonly restartTimesMs: number[] }
  | { readonly kind: "stay_stopped"; readonly reason: string }
  | {
    readonly kind: "failed";
    readonly reason: string;
    readonly retryDelayMs: number;
    readonly restartTimesMs: number[];
  };

/**
 * Describes an exit for people: `exited with code 3`, `killed by SIGKILL`, with the last stderr
 * line when there is one.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(describeExit({ code: 3, signal: null }, "no db"), 'exited with code 3 (last stderr: "no db")');
 * ```
 */
export function describeExit(exit: ExitInfo, lastStderr?: string): string {
  const how = exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const tail = lastStderr?.trim();
  return tail ? `${how} (last stderr: ${JSON.stringify(tail.slice(0, 200))})` : how;
}

/** True when the exit counts as a failure for `restart = "on-failure"`. */
export function isFailureExit(exit: ExitInfo): boolean {
  return exit.signal !== null || exit.code !== 0;
}

/**
 * Decides what follows an exit nobody asked for.
 * @param crashCount consecutive unplanned exits including this one (1 for the first).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const rules = { restart: "on-failure" as const, maxRestarts: 3, restartWindowMs: 60000,
 *   backoff: { baseMs: 1000, maxMs: 8000 } };
 * equal(decideAfterExit({ code: 0, signal: null }, "", { crashCount: 1, restartTimesMs: [], nowMs: 0,
 *   random: 0.5 }, rules).kind, "stay_stopped");
 * ```
 */
export function decideAfterExit(
  exit: ExitInfo,
  lastStderr: string,
  history: {
    readonly crashCount: number;
    readonly restartTimesMs: readonly number[];
    readonly nowMs: number;
    readonly random: number;
  },
  rules: RestartRules,
): ExitDecision {
  const reason = describeExit(exit, lastStderr);
  if (rules.restart === "never") {
    return { kind: "stay_stopped", reason: `${reason}; restart = "never"` };
  }
  if (rules.restart === "on-failure" && !isFailureExit(exit)) {
    return { kind: "stay_stopped", reason: `${reason}; restart = "on-failure" skips clean exits` };
  }
  const budget = recordRestart(history.restartTimesMs, history.nowMs, {
    maxRestarts: rules.maxRestarts,
    windowMs: rules.restartWindowMs,
  });
  if (budget.isExhausted) {
    return {
      kind: "failed",
      reason: `${reason}; more than ${rules.maxRestarts} restarts in ${
        Math.round(rules.restartWindowMs / 1000)
      }s`,
      retryDelayMs: rules.backoff.maxMs,
      restartTimesMs: [...budget.timesMs],
    };
  }
  return {
    kind: "restart",
    delayMs: backoffDelayMs(history.crashCount, rules.backoff, history.random),
    restartTimesMs: [...budget.timesMs],
  };
}

/** Health bookkeeping after one probe. */
export interface HealthVerdict {
  readonly health: Health;
  readonly consecutiveFailures: number;
  /** Three failures in a row: the instance should be restarted. */
  readonly shouldRestart: boolean;
}

/** Failures in a row that make an instance unhealthy and get it restarted. */
export const UNHEALTHY_AFTER_FAILURES = 3;

/**
 * Moves health by one probe result: a pass is healthy, 1-2 failures in a row degraded, 3 unhealthy.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(judgeHealth(2, false), { health: "unhealthy", consecutiveFailures: 3, shouldRestart: true });
 * ```
 */
export function judgeHealth(previousFailures: number, isPass: boolean): HealthVerdict {
  if (isPass) return { health: "healthy", consecutiveFailures: 0, shouldRestart: false };
  const failures = previousFailures + 1;
  if (failures >= UNHEALTHY_AFTER_FAILURES) {
    return { health: "unhealthy", consecutiveFailures: failures, shouldRestart: true };
  }
  return { health: "degraded", consecutiveFailures: failures, shouldRestart: false };
}
