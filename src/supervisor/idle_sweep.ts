/**
 * The idle sweep: every so often, puts to sleep the ready instances that had no request for their
 * service's `idle_timeout`. An instance with a request in flight or waiting is never idle.
 * @module
 */
import type { ServiceConfig } from "../config/schema.ts";
import { isIdle } from "../core/idle.ts";
import { delay } from "./delay.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import type { InstanceTable } from "./instance_table.ts";
import type { Clock } from "./ports.ts";
import type { Runner } from "./runner.ts";

/** What the idle sweep needs. */
export interface IdleSweepDeps {
  readonly clock: Clock;
  readonly table: InstanceTable;
  readonly runner: Runner;
  /** Time between two sweeps. */
  readonly everyMs: number;
}

/** Sweeps until the signal aborts. */
export async function runIdleSweep(deps: IdleSweepDeps, signal: AbortSignal): Promise<void> {
  const { clock, runner } = deps;
  while (!signal.aborted) {
    await delay(deps.everyMs, { signal, clock });
    const now = clock.now();
    for (const entry of deps.table.values()) {
      if (entry.state.kind !== "ready") continue;
      // The service's idle_timeout in force now (a reload applies it to running instances too).
      const svc = runner.serviceOf(entry);
      if (!svc || !isIdleNow(entry, svc, now)) continue;
      runner.tasks.run(`sleep:${entry.key}`, async () => {
        // Someone is starting, stopping or restarting it: not idle in any useful sense.
        if (runner.locks.isBusy(entry.key)) return;
        const isStillIdle = (): boolean =>
          entry.state.kind === "ready" && isIdleNow(entry, svc, clock.now());
        await runner.stop(
          entry,
          "asleep",
          `idle for ${Math.round(svc.idleTimeoutMs / 1000)}s`,
          isStillIdle,
        );
      });
    }
  }
}

/**
 * True when the entry had no request for its service's idle timeout and has none now. Idle time
 * counts from the later of its last request and the moment it became ready: a start that took
 * longer than the idle timeout (a loaded machine) is not idleness.
 */
export function isIdleNow(entry: InstanceEntry, svc: ServiceConfig, nowMs: number): boolean {
  const state = entry.state;
  return isIdle({
    lastActivityMs: state.kind === "ready"
      ? Math.max(entry.lastActivityMs, state.readyAtMs)
      : entry.lastActivityMs,
    nowMs,
    idleTimeoutMs: svc.idleTimeoutMs,
    activeRequests: entry.activeRequests + entry.waitingRequests,
  });
}
