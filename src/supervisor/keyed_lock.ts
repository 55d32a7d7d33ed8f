/**
 * A mutex per key: operations on the same instance run one after another, operations on
 * different instances run in parallel. Permits are Disposable so they cannot leak.
 * @module
 */

/** Per-key mutual exclusion. */
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  /** Waits for the key's previous holder; the returned permit releases on dispose. */
  async acquire(key: string): Promise<Disposable> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => release = resolve);
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    return {
      [Symbol.dispose]: () => {
        release();
        if (this.#tails.get(key) === tail) this.#tails.delete(key);
      },
    };
  }

  /** True while someone holds or waits for the key. */
  isBusy(key: string): boolean {
    return this.#tails.has(key);
  }
}
