/**
 * The wake report: how long a request waited for the instance it woke, from the request's
 * arrival to the instance being ready, and where that time went. Pure.
 * @module
 */
import type { StartTimes } from "./instance_entry.ts";
import type { WakeTimes } from "./ports.ts";

/** A wake's duration and its phases, as numbers and as text. */
export interface WakeReport extends WakeTimes {
  /** `queued 3 ms, spawned 41 ms, listening 300 ms, healthy 68 ms`. */
  readonly phases: string;
}

/**
 * Describes a wake: queued (waiting for the instance's lock and a start slot), spawned (port,
 * data dir and process start), listening (until the port accepted a connection) and healthy
 * (until the readiness check passed). Undefined when no request woke the instance.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const times = { requestedAtMs: 100, launchingAtMs: 103, launchedAtMs: 144, listeningAtMs: 444 };
 * deepEqual(describeWake(times, 512), {
 *   totalMs: 412,
 *   phasesMs: { queued: 3, spawned: 41, listening: 300, healthy: 68 },
 *   phases: "queued 3 ms, spawned 41 ms, listening 300 ms, healthy 68 ms",
 * });
 * ```
 */
export function describeWake(times: StartTimes, readyAtMs: number): WakeReport | undefined {
  const requestedAtMs = times.requestedAtMs;
  if (requestedAtMs === undefined) return undefined;
  const launching = times.launchingAtMs ?? requestedAtMs;
  const launched = times.launchedAtMs ?? launching;
  const listening = times.listeningAtMs ?? readyAtMs;
  const ms = (from: number, to: number): number => Math.max(0, Math.round(to - from));
  const phasesMs = {
    queued: ms(requestedAtMs, launching),
    spawned: ms(launching, launched),
    listening: ms(launched, listening),
    healthy: ms(listening, readyAtMs),
  };
  return {
    totalMs: ms(requestedAtMs, readyAtMs),
    phasesMs,
    phases: Object.entries(phasesMs).map(([phase, n]) => `${phase} ${n} ms`).join(", "),
  };
}
