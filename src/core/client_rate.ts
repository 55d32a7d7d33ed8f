/**
 * Per-client rate limits (wakes and auto-creations by the proxy): at most `count` events per
 * `windowMs` for each client address, in a sliding window. IPv6 addresses count by their /64,
 * which one host can fill with addresses of its own. The table is bounded: the least recently
 * seen address is forgotten first. Only allowed events count: a refused one starts nothing.
 * Pure: time is passed in.
 * @module
 */
import { clientKeyOf } from "./cidr.ts";

/** A rate: `count` events per `windowMs`; a count of 0 means unlimited. */
export interface Rate {
  readonly count: number;
  readonly windowMs: number;
}

/** No limit. */
export const UNLIMITED: Rate = { count: 0, windowMs: 60_000 };

const UNITS: Readonly<Record<string, number>> = {
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
};

/**
 * Parses `"30/min"` (units `s`, `min`, `h`, also `sec`, `second`, `minute`, `hour`) or `"0"`
 * (unlimited); undefined when the text is neither.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * deepEqual(parseRate("30/min"), { count: 30, windowMs: 60_000 });
 * deepEqual(parseRate("0"), { count: 0, windowMs: 60_000 });
 * equal(parseRate("30 per minute"), undefined);
 * ```
 */
export function parseRate(text: string): Rate | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return UNLIMITED;
  const match = /^(\d{1,9})\s*\/\s*([a-z]+)$/.exec(trimmed);
  if (!match) return undefined;
  const windowMs = UNITS[match[2]!];
  if (windowMs === undefined) return undefined;
  return { count: Number(match[1]), windowMs };
}

/** The outcome of {@linkcode ClientRateLimiter.take}. */
export type RateVerdict =
  | { readonly isLimited: false }
  | { readonly isLimited: true; readonly retryAfterSeconds: number };

const ALLOWED: RateVerdict = { isLimited: false };

/** Options of {@linkcode ClientRateLimiter}. */
export interface ClientRateLimiterOptions {
  /** Addresses remembered at most; the least recently seen one is forgotten first. @default {10000} */
  readonly maxClients?: number;
}

/**
 * Counts events per client address in a sliding window.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const limiter = new ClientRateLimiter({ count: 2, windowMs: 60_000 });
 * equal(limiter.take("10.0.0.1", 0).isLimited, false);
 * equal(limiter.take("10.0.0.1", 1).isLimited, false);
 * equal(limiter.take("10.0.0.1", 2).isLimited, true);
 * equal(limiter.take("10.0.0.2", 2).isLimited, false);
 * equal(limiter.take("10.0.0.1", 60_000).isLimited, false);
 * ```
 */
export class ClientRateLimiter {
  readonly #rate: Rate;
  readonly #maxClients: number;
  /** Event times per address, oldest first, at most `count`; Map order is LRU order. */
  readonly #byClient = new Map<string, number[]>();

  constructor(rate: Rate, options: ClientRateLimiterOptions = {}) {
    this.#rate = rate;
    this.#maxClients = options.maxClients ?? 10_000;
  }

  /** The rate this limiter applies. */
  get rate(): Rate {
    return this.#rate;
  }

  /** Addresses currently remembered. */
  get size(): number {
    return this.#byClient.size;
  }

  /** Counts one event of `clientIp` at `nowMs` unless that address already had its share. */
  take(clientIp: string, nowMs: number): RateVerdict {
    const { count, windowMs } = this.#rate;
    if (count <= 0) return ALLOWED;
    const key = clientKeyOf(clientIp);
    const times = this.#byClient.get(key) ?? [];
    // Delete and set again: the address moves to the end, the most recently used.
    this.#byClient.delete(key);
    let stale = 0;
    while (stale < times.length && times[stale]! <= nowMs - windowMs) stale++;
    if (stale > 0) times.splice(0, stale);
    this.#byClient.set(key, times);
    if (this.#byClient.size > this.#maxClients) {
      const oldest = this.#byClient.keys().next().value;
      if (oldest !== undefined) this.#byClient.delete(oldest);
    }
    if (times.length >= count) {
      const retryAfterSeconds = Math.max(1, Math.ceil((times[0]! + windowMs - nowMs) / 1000));
      return { isLimited: true, retryAfterSeconds };
    }
    times.push(nowMs);
    return ALLOWED;
  }
}
