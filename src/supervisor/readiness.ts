/**
 * The one polling loop for readiness: probes quickly at first (a Go binary is up in ~5 ms), then
 * less often, until a probe passes, time runs out, or the signal aborts.
 * @module
 */
import type { Clock, ProbeResult } from "./ports.ts";
import { delay } from "./delay.ts";
import { realClock } from "./real_clock.ts";

const FAST_PHASE_MS = 1_000;
const FAST_INTERVAL_MS = 2;

/** Options for waitUntilReady. */
export interface ReadinessOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Called with every probe's result (e.g. to show the latest one while waiting). */
  readonly onProbe?: (result: ProbeResult) => void;
  /** Longest pause between probes once the first second has passed. @default {25} */
  readonly maxIntervalMs?: number;
  /** Time and timers. @default {realClock} */
  readonly clock?: Clock;
}

/** Outcome of waiting. */
export interface ReadinessResult {
  readonly isReady: boolean;
  /** The last probe's detail, for error messages. */
  readonly lastDetail: string;
}

/** Probes until a probe passes or `timeoutMs` passes; rejects only when the signal aborts. */
export async function waitUntilReady(
  probe: () => Promise<ProbeResult>,
  options: ReadinessOptions,
): Promise<ReadinessResult> {
  const clock = options.clock ?? realClock;
  const startedAt = clock.now();
  const deadline = startedAt + options.timeoutMs;
  const maxIntervalMs = options.maxIntervalMs ?? 25;
  let intervalMs = 1;
  let lastDetail = "not probed yet";
  while (true) {
    options.signal.throwIfAborted();
    const result = await probe();
    options.signal.throwIfAborted();
    options.onProbe?.(result);
    if (result.isPass) return { isReady: true, lastDetail: result.detail };
    lastDetail = result.detail;
    const left = deadline - clock.now();
    if (left <= 0) return { isReady: false, lastDetail };
    await delay(Math.min(intervalMs, left), { signal: options.signal, clock });
    // A refused loopback connect costs ~0.1 ms: probe every 2 ms during the first second, where
    // interpreters (30-60 ms) and binaries (~5 ms) become ready, then back off.
    const capMs = clock.now() - startedAt < FAST_PHASE_MS ? FAST_INTERVAL_MS : maxIntervalMs;
    intervalMs = Math.min(Math.ceil(intervalMs * 1.5), capMs);
  }
}
