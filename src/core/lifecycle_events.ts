/**
 * The words of the lifecycle events tenement writes in an instance's log (level `event`), and
 * the matcher that reads them back: the supervisor builds its messages here and `ten report`
 * counts restarts, crashes, OOM kills and wakes in a window from them, so the two cannot drift
 * apart. Pure: strings in, strings or facts out.
 * @module
 */

/** What every lifecycle event line starts with. */
export const EVENT_PREFIX = "tenement: ";

const RESTARTING = "restarting in ";
const EXITED = "exited unexpectedly (pid ";
const OUT_OF_MEMORY = "out of memory: ";
const FAILED = "failed: ";
const FAILED_TO_START = "failed to start and is stopped: ";
const READY = "ready in ";
const WOKE = "woke for a request in ";

/** A restart scheduled after an unplanned end (a crash, a failed health check, a retry). */
export function restartingEvent(delayMs: number): string {
  return `${RESTARTING}${delayMs} ms`;
}

/** The process ended on its own; `how` is `describeExit`'s text ("exited with code 1 …"). */
export function exitedEvent(pid: number | undefined, how: string): string {
  return `${EXITED}${pid}): ${how}`;
}

/** The kernel's OOM killer ended the run at its memory limit. */
export function outOfMemoryEvent(limitMb: number): string {
  return `${OUT_OF_MEMORY}the kernel's OOM killer ended the run at its limit (memory_limit_mb = ${limitMb})`;
}

/** The restart budget is spent: the instance is failed (and retried at the longest backoff). */
export function failedEvent(reason: string): string {
  return `${FAILED}${reason}`;
}

/** An explicitly started instance did not start and rests stopped. */
export function failedToStartEvent(reason: string): string {
  return `${FAILED_TO_START}${reason}`;
}

/** The instance passed its first health check, `ms` after it was launched. */
export function readyEvent(ms: number): string {
  return `${READY}${ms} ms`;
}

/** A request woke the instance; `phases` names the time of each step. */
export function wokeEvent(ms: number, phases: string): string {
  return `${WOKE}${ms} ms (${phases})`;
}

/** What a stored event line says, for counting. */
export type LifecycleFact =
  | { readonly kind: "restart" }
  /** `isCrash`: ended by a signal, the OOM killer or a non-zero code. */
  | { readonly kind: "exit"; readonly isCrash: boolean }
  | { readonly kind: "oom" }
  | { readonly kind: "failed" }
  | { readonly kind: "ready" }
  | { readonly kind: "wake"; readonly ms: number };

/**
 * The fact a stored event message (with its `tenement: ` prefix) states, or undefined for the
 * events that are not counted (spawned, stopped, weight changes…).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(classifyEvent(EVENT_PREFIX + wokeEvent(420, "queued 1 ms")), { kind: "wake", ms: 420 });
 * deepEqual(classifyEvent(EVENT_PREFIX + exitedEvent(7, "exited with code 0")),
 *   { kind: "exit", isCrash: false });
 * deepEqual(classifyEvent("an app line"), undefined);
 * ```
 */
export function classifyEvent(message: string): LifecycleFact | undefined {
  if (!message.startsWith(EVENT_PREFIX)) return undefined;
  const text = message.slice(EVENT_PREFIX.length);
  if (text.startsWith(RESTARTING)) return { kind: "restart" };
  if (text.startsWith(EXITED)) {
    const how = text.slice(text.indexOf("): ") + 3);
    return { kind: "exit", isCrash: !/^exited with code 0(?:\s|$)/.test(how) };
  }
  if (text.startsWith(OUT_OF_MEMORY)) return { kind: "oom" };
  if (text.startsWith(FAILED) || text.startsWith(FAILED_TO_START)) return { kind: "failed" };
  if (text.startsWith(READY)) return { kind: "ready" };
  if (text.startsWith(WOKE)) {
    const ms = Number.parseInt(text.slice(WOKE.length), 10);
    return Number.isFinite(ms) ? { kind: "wake", ms } : undefined;
  }
  return undefined;
}
