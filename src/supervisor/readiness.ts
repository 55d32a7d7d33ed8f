/**
 * The one polling loop for readiness: probes quickly at first (a Go binary is up in ~5 ms), then
 * less often, until a probe passes, time runs out, or the signal aborts.
 * @module
 */
import type { ProbeResult } from "./ports.ts";
import { delay } from "./delay.ts";

/** Options for waitUntilReady. */
export interface ReadinessOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Longest pause between probes. @default {25} */
  readonly maxIntervalMs?: number;
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
  const deadline = Date.now() + options.timeoutMs;
  const maxIntervalMs = options.maxIntervalMs ?? 25;
  let intervalMs = 1;
  let lastDetail = "not probed yet";
  while (true) {
    options.signal.throwIfAborted();
    const result = await probe();
    options.signal.throwIfAborted();
    if (result.isPass) return { isReady: true, lastDetail: result.detail };
    lastDetail = result.detail;
    const left = deadline - Date.now();
    if (left <= 0) return { isReady: false, lastDetail };
    await delay(Math.min(intervalMs, left), { signal: options.signal });
    intervalMs = Math.min(Math.ceil(intervalMs * 1.5), maxIntervalMs);
  }
}
