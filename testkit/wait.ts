/**
 * Waiting for conditions, not for time: one polling helper with a deadline and a signal, and a
 * sleep for the few places that must prove something does not happen.
 * @module
 */
import { delay } from "../src/supervisor/delay.ts";

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this long. @default {10_000} */
  readonly timeoutMs?: number;
  /** Stops the wait early; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Pause between checks. @default {20} */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. @default {"condition"} */
  readonly what?: string;
}

/** The deadline of a {@linkcode waitFor} passed. */
export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
}

/** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, signal === undefined ? {} : { signal });
}

/**
 * Polls `check` until it returns a truthy value, and returns that value. A check that throws
 * counts as not yet; its last error is named in the {@linkcode WaitTimeoutError}.
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, signal, intervalMs = 20, what = "condition" } = options;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const value = await check();
      if (value) return value;
    } catch (err: unknown) {
      lastError = err;
    }
    if (performance.now() >= deadline) break;
    await sleep(intervalMs, signal);
  }
  throw new WaitTimeoutError(
    `Timed out waiting for ${what}${lastError === undefined ? "" : `: ${lastError}`}`,
  );
}

/** Like {@linkcode waitFor}, but answers false at the deadline instead of throwing. */
export async function holdsWithin(
  check: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<boolean> {
  try {
    return await waitFor(check, options);
  } catch (err: unknown) {
    if (err instanceof WaitTimeoutError) return false;
    throw err;
  }
}
