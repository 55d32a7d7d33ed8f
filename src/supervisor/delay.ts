/**
 * `delay(ms, {signal})`: a sleep that ends early, with the signal's reason, when aborted.
 * @module
 */

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
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
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
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
