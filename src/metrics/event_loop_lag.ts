/**
 * Measures how late the daemon's event loop runs timers: a timer every `everyMs` notes how much
 * later than asked it fired, and the largest delay of a recent window is kept.
 * @module
 */

/** Options of {@linkcode EventLoopLag}. */
export interface EventLoopLagOptions {
  /** Time between two measurements. @default {500} */
  readonly everyMs?: number;
  /** How far back the largest delay is kept. @default {30000} */
  readonly windowMs?: number;
}

/** A running event-loop delay monitor; dispose it to stop. */
export class EventLoopLag implements Disposable {
  readonly #everyMs: number;
  /** The largest delay of each measurement in the window, oldest first. */
  readonly #delaysMs: number[] = [];
  readonly #slots: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expectedAtMs = 0;

  constructor(options: EventLoopLagOptions = {}) {
    this.#everyMs = options.everyMs ?? 500;
    this.#slots = Math.max(1, Math.round((options.windowMs ?? 30_000) / this.#everyMs));
  }

  /** Starts measuring; the timer does not keep the process alive. */
  start(): void {
    this.#schedule();
  }

  /** One timer at a time, each asked for `everyMs` from now: its lateness is the delay. */
  #schedule(): void {
    this.#expectedAtMs = performance.now() + this.#everyMs;
    const timer = setTimeout(() => this.#tick(), this.#everyMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** The largest delay seen in the window, in seconds (0 before the first measurement). */
  get maxSeconds(): number {
    return this.#delaysMs.reduce((max, ms) => Math.max(max, ms), 0) / 1000;
  }

  #tick(): void {
    const nowMs = performance.now();
    this.#delaysMs.push(Math.max(0, nowMs - this.#expectedAtMs));
    if (this.#delaysMs.length > this.#slots) this.#delaysMs.shift();
    if (this.#timer !== undefined) this.#schedule();
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
