/**
 * A manual `Clock` for tests: time stands still until `advance()` moves it, firing due timers in
 * order and letting the promise work each one starts run to completion before the next.
 * @module
 */
import type { Clock } from "../ports.ts";

interface PendingTimer {
  readonly atMs: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Lets every queued promise continuation run (one macrotask turn, which drains microtasks). */
export async function settle(): Promise<void> {
  // A real setTimeout(0) is clamped to 4 ms once nested; a message is delivered at once.
  const channel = new MessageChannel();
  try {
    await new Promise<void>((resolve) => {
      channel.port1.onmessage = () => resolve();
      channel.port2.postMessage(0);
    });
  } finally {
    channel.port1.close();
    channel.port2.close();
  }
}

/** A clock whose time moves only when told to. */
export class FakeClock implements Clock {
  #nowMs: number;
  #seq = 0;
  #timers: PendingTimer[] = [];
  /** What `random()` returns. @default {0.5} */
  randomValue = 0.5;

  constructor(startMs = 1_000_000) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  random(): number {
    return this.randomValue;
  }

  setTimer(fn: () => void, ms: number): Disposable {
    const timer: PendingTimer = { atMs: this.#nowMs + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return {
      [Symbol.dispose]: () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
    };
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** When the next timer fires, if any. */
  get nextTimerAtMs(): number | undefined {
    return this.#next()?.atMs;
  }

  /** Lets pending promise work finish without moving time. */
  settle(): Promise<void> {
    return settle();
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    await settle();
    while (true) {
      const next = this.#next();
      if (next === undefined || next.atMs > targetMs) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#nowMs = next.atMs;
      next.fn();
      await settle();
    }
    this.#nowMs = targetMs;
    await settle();
  }

  #next(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.atMs < best.atMs || (t.atMs === best.atMs && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
