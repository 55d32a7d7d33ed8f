/**
 * One in-flight promise per key: concurrent callers share it (wake-once). The entry is removed in
 * `finally`, so a failure never leaves a stale entry behind.
 * @module
 */

/** Deduplicates concurrent work by key. */
export class SingleFlight<T> {
  #flights = new Map<string, Promise<T>>();

  /** Runs `work` unless a run for `key` is in flight, in which case its promise is shared. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.#flights.get(key);
    if (existing) return existing;
    // Started in a microtask, so the entry exists before `work` runs, even if it throws at once.
    const flight = Promise.resolve().then(work).finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return flight;
  }

  /** True while a run for `key` is in flight. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Number of keys in flight. */
  get size(): number {
    return this.#flights.size;
  }
}
