/**
 * The lifecycle of an instance as pure data and functions: the `InstanceState` union, the one
 * `transition(state, event)` that moves it, and how a health probe result moves health. The
 * restart policy beside it (`exit_decision.ts`) decides what an unplanned end leads to; the
 * supervisor carries the returned effects out. Pure: time is passed in.
 * @module
 */
import { describeEndReason, type ExitDecision } from "./exit_decision.ts";

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
  /** Set when the kernel's OOM killer ended the run at the instance's memory limit. */
  readonly oom?: { readonly memoryLimitMb: number };
}

// ---- the state machine ------------------------------------------------------------------------

/**
 * Where an instance is in its life. Only `unready`, `ready` and `stopping` have a process; health
 * exists only while there is one.
 */
export type InstanceState =
  /** Not running, on purpose or by its restart policy; the reason says why, when known. */
  | { readonly kind: "stopped"; readonly reason: string | undefined }
  /** Stopped for idleness; the next request wakes it. */
  | { readonly kind: "asleep"; readonly reason: string | undefined }
  /** Queued to start (daemon start-up); no process yet. */
  | { readonly kind: "starting" }
  /** Running but not ready yet: the process is up and no probe has passed. Shown as `starting`. */
  | {
    readonly kind: "unready";
    readonly sinceMs: number;
    readonly health: Health;
    readonly healthFailures: number;
  }
  /** Running and ready: a probe has passed; takes traffic. Shown as `running`. */
  | {
    readonly kind: "ready";
    readonly readyAtMs: number;
    readonly health: Health;
    readonly healthFailures: number;
  }
  /** Being stopped (SIGTERM, grace, SIGKILL). */
  | { readonly kind: "stopping"; readonly health: Health }
  /** Ended unplanned; started again at `retryAtMs` (undefined once the retry is due or dropped). */
  | { readonly kind: "backoff"; readonly reason: string; readonly retryAtMs: number | undefined }
  /** Restarted too often; tried again after the longest backoff, or by `ten restart`. */
  | { readonly kind: "failed"; readonly reason: string; readonly retryAtMs: number | undefined };

/** Something that happened to an instance. */
export type InstanceEvent =
  /** Queued to start at daemon start-up. */
  | { readonly kind: "queued" }
  /** Its process was started. */
  | { readonly kind: "launched"; readonly nowMs: number }
  /** The start-up readiness wait passed. */
  | { readonly kind: "became_ready"; readonly nowMs: number }
  /** The start-up readiness wait ran out of time. */
  | { readonly kind: "startup_timed_out" }
  /** A health probe of the running process finished. */
  | {
    readonly kind: "probed";
    readonly isPass: boolean;
    readonly detail: string;
    readonly nowMs: number;
    /** Healthy this long after becoming ready resets the crash count. */
    readonly backoffResetMs: number;
  }
  /** Its process is being stopped. */
  | { readonly kind: "stop_begun" }
  /** Stopped on purpose, to rest as `rest`. */
  | {
    readonly kind: "stopped";
    readonly rest: "stopped" | "asleep";
    readonly reason: string | undefined;
  }
  /** The daemon is shutting down and its process is gone; the desired state is kept. */
  | { readonly kind: "shutdown" }
  /** The run ended unplanned and the restart policy decided. */
  | { readonly kind: "ended"; readonly decision: ExitDecision; readonly nowMs: number }
  /** A pending retry fired or was dropped. */
  | { readonly kind: "retry_cleared" };

/** What the supervisor must do after a transition, as data. */
export type Effect =
  | { readonly kind: "schedule_retry"; readonly delayMs: number }
  | { readonly kind: "restart_unhealthy"; readonly reason: string }
  | { readonly kind: "reset_crash_count" }
  /** Became ready: report the wake time. */
  | { readonly kind: "report_ready" }
  | { readonly kind: "set_desired"; readonly desired: "stopped" | "asleep" };

/** A new state and the effects it asks for. */
export interface Transition {
  readonly state: InstanceState;
  readonly effects: readonly Effect[];
}

const RESTING = new Set<InstanceState["kind"]>(["stopped", "asleep", "backoff", "failed"]);

/**
 * Moves an instance by one event. Returns null when the event does not apply to the state (for
 * example a probe result for an instance with no process): callers ignore it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const next = transition({ kind: "stopped", reason: undefined }, { kind: "launched", nowMs: 5 });
 * equal(next?.state.kind, "unready");
 * equal(transition({ kind: "stopped", reason: undefined }, { kind: "became_ready", nowMs: 5 }), null);
 * ```
 */
export function transition(state: InstanceState, event: InstanceEvent): Transition | null {
  switch (event.kind) {
    case "queued":
      return RESTING.has(state.kind) ? to({ kind: "starting" }) : null;
    case "launched":
      return RESTING.has(state.kind) || state.kind === "starting"
        ? to({ kind: "unready", sinceMs: event.nowMs, health: "unknown", healthFailures: 0 })
        : null;
    case "became_ready":
      return state.kind === "unready" ? to(readyAt(event.nowMs), [{ kind: "report_ready" }]) : null;
    case "startup_timed_out":
      return state.kind === "unready" ? to({ ...state, health: "unhealthy" }) : null;
    case "probed":
      return state.kind === "unready" || state.kind === "ready" ? afterProbe(state, event) : null;
    case "stop_begun":
      return state.kind === "unready" || state.kind === "ready"
        ? to({ kind: "stopping", health: state.health })
        : null;
    case "stopped":
      return to({ kind: event.rest, reason: event.reason }, [
        { kind: "set_desired", desired: event.rest },
      ]);
    case "shutdown":
      if (state.kind === "backoff") return to({ kind: "stopped", reason: state.reason });
      return state.kind === "stopping" || state.kind === "unready" || state.kind === "ready"
        ? to({ kind: "stopped", reason: undefined })
        : null;
    case "ended":
      return afterEnd(event.decision, event.nowMs);
    case "retry_cleared":
      return (state.kind === "backoff" || state.kind === "failed") && state.retryAtMs !== undefined
        ? to({ ...state, retryAtMs: undefined })
        : null;
  }
}

function to(state: InstanceState, effects: readonly Effect[] = []): Transition {
  return { state, effects };
}

type Running = Extract<InstanceState, { kind: "unready" | "ready" }>;

function readyAt(nowMs: number): Extract<InstanceState, { kind: "ready" }> {
  return { kind: "ready", readyAtMs: nowMs, health: "healthy", healthFailures: 0 };
}

function afterProbe(state: Running, event: Extract<InstanceEvent, { kind: "probed" }>): Transition {
  const effects: Effect[] = [];
  let current: Running = state;
  if (event.isPass && current.kind === "unready") {
    current = readyAt(event.nowMs);
    effects.push({ kind: "report_ready" });
  }
  const verdict = judgeHealth(current.healthFailures, event.isPass);
  const next = { ...current, health: verdict.health, healthFailures: verdict.consecutiveFailures };
  if (
    event.isPass && next.kind === "ready" && event.nowMs - next.readyAtMs >= event.backoffResetMs
  ) {
    effects.push({ kind: "reset_crash_count" });
  }
  if (verdict.shouldRestart) {
    effects.push({
      kind: "restart_unhealthy",
      reason: `health check failed ${verdict.consecutiveFailures} times in a row (${event.detail})`,
    });
  }
  return to(next, effects);
}

function afterEnd(decision: ExitDecision, nowMs: number): Transition {
  const reason = describeEndReason(decision.reason);
  switch (decision.kind) {
    case "stay_stopped":
      return to({ kind: "stopped", reason }, [{ kind: "set_desired", desired: "stopped" }]);
    case "restart":
      return to({ kind: "backoff", reason, retryAtMs: nowMs + decision.delayMs }, [
        { kind: "schedule_retry", delayMs: decision.delayMs },
      ]);
    case "failed":
      return to({ kind: "failed", reason, retryAtMs: nowMs + decision.retryDelayMs }, [
        { kind: "schedule_retry", delayMs: decision.retryDelayMs },
      ]);
  }
}

/** The status word `ten ps` and the API show for a state. */
export function statusOf(state: InstanceState): InstanceStatus {
  switch (state.kind) {
    case "unready":
      return "starting";
    case "ready":
      return "running";
    default:
      return state.kind;
  }
}

/** The health shown for a state: `failed` when failed, `unknown` without a process. */
export function healthOf(state: InstanceState): Health {
  if (state.kind === "failed") return "failed";
  return "health" in state ? state.health : "unknown";
}

/** Why a resting instance is where it is, if known. */
export function reasonOf(state: InstanceState): string | undefined {
  return "reason" in state ? state.reason : undefined;
}

/** When a backoff or failed instance is started again, if scheduled. */
export function retryAtOf(state: InstanceState): number | undefined {
  return "retryAtMs" in state ? state.retryAtMs : undefined;
}

/** True while the instance is starting, has a process, or is being stopped. */
export function isAwake(state: InstanceState): boolean {
  return state.kind === "starting" || state.kind === "unready" || state.kind === "ready" ||
    state.kind === "stopping";
}

/** True when the instance is running and ready: it takes traffic. */
export function isReady(state: InstanceState): boolean {
  return state.kind === "ready";
}

/** True for a backoff or failed instance, which a retry may start again. */
export function isWaitingToRetry(state: InstanceState): boolean {
  return state.kind === "backoff" || state.kind === "failed";
}

/**
 * True while a run's start-up is not over: it is queued, or its process is up and its start-up
 * wait has neither passed a probe nor run out of time (which marks health `unhealthy`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(isStartingUp({ kind: "unready", sinceMs: 0, health: "unknown", healthFailures: 0 }), true);
 * equal(isStartingUp({ kind: "unready", sinceMs: 0, health: "unhealthy", healthFailures: 0 }), false);
 * ```
 */
export function isStartingUp(state: InstanceState): boolean {
  return state.kind === "starting" || (state.kind === "unready" && state.health === "unknown");
}

/** True once the run ended with no process left (stopped, backoff or failed). */
export function hasEnded(state: InstanceState): boolean {
  return state.kind === "stopped" || state.kind === "backoff" || state.kind === "failed";
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
