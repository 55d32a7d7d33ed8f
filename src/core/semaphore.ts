/**
 * A counting semaphore: caps how many instances start at once (a start storm is CPU bound:
 * starting everything at once makes every instance slow) and how many ACME orders run at once.
 * @module
 */

/** Limits concurrent holders to `limit`. */
export class Semaphore {
  #available: number;
  #waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.#available = Math.max(1, limit);
  }

  /** Waits for a slot; the permit gives it back on dispose. Aborting the signal stops waiting. */
  async acquire(signal?: AbortSignal): Promise<Disposable> {
    signal?.throwIfAborted();
    if (this.#available > 0) {
      this.#available--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const grant = (): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = (): void => {
          this.#waiters = this.#waiters.filter((w) => w !== grant);
          reject(signal?.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(grant);
      });
    }
    let isReleased = false;
    return {
      [Symbol.dispose]: () => {
        if (isReleased) return;
        isReleased = true;
        const next = this.#waiters.shift();
        if (next) next();
        else this.#available++;
      },
    };
  }
}
