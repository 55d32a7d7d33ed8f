/**
 * `delay(ms, {signal})` and `waitAtMost(event, ms, {signal})`: sleeps that end early when aborted,
 * on the timers of a `Clock` (the real one unless one is passed).
 * @module
 */
import type { Clock } from "./ports.ts";
import { realClock } from "./real_clock.ts";

/** Options of the waits in this file. */
export interface WaitOptions {
  readonly signal?: AbortSignal;
  /** Whose timers to use. @default {realClock} */
  readonly clock?: Clock;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, options: WaitOptions = {}): Promise<void> {
  const { signal, clock = realClock } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer[Symbol.dispose]();
      reject(signal?.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Resolves when `event` settles or after `ms`, whichever comes first, and clears its timer either
 * way (a bare `Promise.race` with `delay` leaves the timer running); rejects with the signal's
 * reason when it aborts first.
 */
export function waitAtMost(
  event: Promise<unknown>,
  ms: number,
  options: WaitOptions = {},
): Promise<void> {
  const { signal, clock = realClock } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      timer[Symbol.dispose]();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal?.reason);
    };
    const timer = clock.setTimer(() => {
      finish();
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    event.then(() => {
      finish();
      resolve();
    }, () => {
      finish();
      resolve();
    });
  });
}
