/**
 * The idle sweep: every so often, puts to sleep the ready instances that had no request for their
 * service's `idle_timeout`. An instance with a request in flight or waiting is never idle. The
 * same sweep forgets request-created instances nobody uses (`auto_create_forget_after`) and those
 * whose creation never got them running, so they stop counting against `auto_create_limit`.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServiceConfig } from "../config/schema.ts";
import { messageOf } from "../core/errors.ts";
import { isIdle } from "../core/idle.ts";
import { delay } from "./delay.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import { type ForgetDeps, forgetInstance } from "./instance_forget.ts";
import type { InstanceTable } from "./instance_table.ts";
import type { Clock } from "./ports.ts";
import type { Runner } from "./runner.ts";

const log = getLogger(["tenement", "supervisor"]);

/** What the idle sweep needs. */
export interface IdleSweepDeps {
  readonly clock: Clock;
  readonly table: InstanceTable;
  readonly runner: Runner;
  /** Time between two sweeps. */
  readonly everyMs: number;
  /** For forgetting unused request-created instances; without it nothing is forgotten. */
  readonly forget?: ForgetDeps;
}

/** Sweeps until the signal aborts. */
export async function runIdleSweep(deps: IdleSweepDeps, signal: AbortSignal): Promise<void> {
  const { clock, runner } = deps;
  /** Entries a forget task is already under way for. */
  const forgetting = new Set<InstanceEntry>();
  while (!signal.aborted) {
    await delay(deps.everyMs, { signal, clock });
    const now = clock.now();
    for (const entry of deps.table.values()) {
      // The service's idle_timeout in force now (a reload applies it to running instances too).
      const svc = runner.serviceOf(entry);
      if (!svc) continue;
      if (deps.forget !== undefined && !forgetting.has(entry)) {
        const why = whyForget(entry, svc, now);
        if (why !== undefined && !runner.locks.isBusy(entry.key)) {
          forgetting.add(entry);
          const forget = deps.forget;
          runner.tasks.run(`forget:${entry.key}`, async () => {
            try {
              await forgetUnused(forget, entry, svc, why);
            } finally {
              forgetting.delete(entry);
            }
          });
          continue;
        }
      }
      if (entry.state.kind !== "ready" || !isIdleNow(entry, svc, now)) continue;
      runner.tasks.run(`sleep:${entry.key}`, async () => {
        // Someone is starting, stopping or restarting it: not idle in any useful sense.
        if (runner.locks.isBusy(entry.key)) return;
        let isStopping = false;
        const isStillIdle = (): boolean =>
          isStopping = entry.state.kind === "ready" && isIdleNow(entry, svc, clock.now());
        await runner.stop(
          entry,
          "asleep",
          `idle for ${Math.round(svc.idleTimeoutMs / 1000)}s`,
          isStillIdle,
        );
        if (isStopping) runner.metrics?.idleStopped?.(entry.service, entry.id);
      });
    }
  }
}

/**
 * Why a request-created instance should be forgotten now, or undefined. It must have no process
 * and no request: either it never became ready and its creation is over (its start failed; its
 * requests gave up, which takes at most twice its start-up time), or it has had no request for
 * `auto_create_forget_after`.
 */
export function whyForget(
  entry: InstanceEntry,
  svc: ServiceConfig,
  nowMs: number,
): string | undefined {
  if (entry.origin !== "request" || entry.handle !== undefined) return undefined;
  // Forgetting a disabled instance would lift the operator's ban: its next request recreates it.
  if (entry.isDisabled) return undefined;
  if (entry.activeRequests + entry.waitingRequests > 0) return undefined;
  const kind = entry.state.kind;
  const unusedMs = nowMs - entry.lastActivityMs;
  if (
    !entry.hasBeenReady && (kind === "stopped" || kind === "failed" || kind === "backoff") &&
    unusedMs >= 2 * svc.startupTimeoutMs
  ) {
    return "it was created on request but never started";
  }
  const afterMs = svc.autoCreateForgetAfterMs;
  if (
    afterMs > 0 && unusedMs >= afterMs &&
    (kind === "stopped" || kind === "asleep" || kind === "failed")
  ) {
    return `it was created on request and had no request for ${formatSpan(afterMs)}`;
  }
  return undefined;
}

/** Forgets an unused request-created instance like `ten rm` (its data dir too unless kept). */
async function forgetUnused(
  deps: ForgetDeps,
  entry: InstanceEntry,
  svc: ServiceConfig,
  why: string,
): Promise<void> {
  // A crash backoff's pending retry would start it again: rest it first.
  if (entry.state.kind === "backoff") {
    await deps.runner.stop(entry, "stopped", why, () => entry.handle === undefined);
  }
  try {
    log.info("Forgetting {key}: {why}", { key: entry.key, why });
    await forgetInstance(deps, entry, { purge: !svc.storagePersist, dryRun: false });
  } catch (err: unknown) {
    // A request reached it meanwhile: it is in use again.
    log.debug("Kept {key}: {err}", { key: entry.key, err: messageOf(err) });
  }
}

/** `7d`, `12h`, `30m` or `90s`: the largest whole unit. */
function formatSpan(ms: number): string {
  const units: [number, string][] = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "m"]];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
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
