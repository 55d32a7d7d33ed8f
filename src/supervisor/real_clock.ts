/**
 * The wall clock, real timers and `Math.random`: the one place in the supervisor that touches
 * them. The daemon passes it in; tests pass a fake clock instead.
 * @module
 */
import type { Clock } from "./ports.ts";

/** The real `Clock`. */
export const realClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimer(fn: () => void, ms: number): Disposable {
    const timer = setTimeout(fn, ms);
    return { [Symbol.dispose]: () => clearTimeout(timer) };
  },
};
