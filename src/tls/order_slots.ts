/**
 * A small bound on concurrent ACME orders: each order holds a slot; a caller waits for one, and
 * stops waiting when its signal aborts (a handshake never waits past its own time bound).
 * @module
 */

/** At most `limit` holders at a time. */
export class OrderSlots {
  #free: number;
  #waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.#free = Math.max(1, limit);
  }

  /** Waits for a slot; dispose the permit to give it back. */
  async acquire(signal: AbortSignal): Promise<Disposable> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const grant = (): void => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = (): void => {
          this.#waiters = this.#waiters.filter((w) => w !== grant);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
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
        else this.#free++;
      },
    };
  }
}
