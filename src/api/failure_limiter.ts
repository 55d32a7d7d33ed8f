/**
 * The failed-authentication limit of the management API: failures per client address in a
 * sliding window, plus one limit over all addresses (a caller that can choose its address, such
 * as a process on the API socket or behind a trusted proxy, cannot multiply its attempts). Only
 * failures are counted and only failures are refused: the caller checks the token first, so a
 * valid token is never blocked. Synchronous, so a count is read and written with no await in
 * between. The table is bounded: the least recently failing address is forgotten first. IPv6
 * addresses count by their /64, which one host can fill with addresses of its own.
 * @module
 */
import { clientKeyOf } from "../core/cidr.ts";

/** Options of {@linkcode FailureLimiter}. */
export interface FailureLimiterOptions {
  /** Failures one address may have in the window before it is refused. @default {10} */
  readonly maxPerClient?: number;
  /** Failures all addresses together may have in the window. @default {600} */
  readonly maxTotal?: number;
  /** Length of the sliding window. @default {60000} */
  readonly windowMs?: number;
  /** Addresses remembered at most; the least recently failing one is forgotten first. @default {10000} */
  readonly maxClients?: number;
}

/** The outcome of one recorded failure. */
export type FailureVerdict =
  | { readonly isLimited: false }
  | { readonly isLimited: true; readonly retryAfterSeconds: number };

const NOT_LIMITED: FailureVerdict = { isLimited: false };

/** Counts failed authentications per client address; see the module doc. */
export class FailureLimiter {
  readonly #maxPerClient: number;
  readonly #maxTotal: number;
  readonly #windowMs: number;
  readonly #maxClients: number;
  /** Failure times per address, oldest first, at most `maxPerClient`; Map order is LRU order. */
  readonly #byClient = new Map<string, number[]>();
  /** Failure times over all addresses, oldest first, at most `maxTotal`. */
  readonly #total: number[] = [];

  constructor(options: FailureLimiterOptions = {}) {
    this.#maxPerClient = options.maxPerClient ?? 10;
    this.#maxTotal = options.maxTotal ?? 600;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxClients = options.maxClients ?? 10_000;
  }

  /** Addresses currently remembered. */
  get size(): number {
    return this.#byClient.size;
  }

  /**
   * Records a failed authentication from `clientIp` at `nowMs`; limited when that address (or
   * everyone together) already had the maximum number of failures in the window. A limited
   * failure counts too, so a client that keeps trying stays limited.
   */
  recordFailure(clientIp: string, nowMs: number): FailureVerdict {
    const key = clientKeyOf(clientIp);
    const since = nowMs - this.#windowMs;
    const times = this.#byClient.get(key) ?? [];
    // Delete and set again: the address moves to the end, the most recently used.
    this.#byClient.delete(key);
    dropBefore(times, since);
    dropBefore(this.#total, since);
    const isClientLimited = times.length >= this.#maxPerClient;
    const isTotalLimited = this.#total.length >= this.#maxTotal;
    push(times, nowMs, this.#maxPerClient);
    push(this.#total, nowMs, this.#maxTotal);
    this.#byClient.set(key, times);
    if (this.#byClient.size > this.#maxClients) {
      const oldest = this.#byClient.keys().next().value;
      if (oldest !== undefined) this.#byClient.delete(oldest);
    }
    if (!isClientLimited && !isTotalLimited) return NOT_LIMITED;
    const oldestMs = isClientLimited ? times[0]! : this.#total[0]!;
    const retryAfterSeconds = Math.max(1, Math.ceil((oldestMs + this.#windowMs - nowMs) / 1000));
    return { isLimited: true, retryAfterSeconds };
  }
}

/** Removes the times at or before `since` from the front of `times` (oldest first). */
function dropBefore(times: number[], since: number): void {
  let stale = 0;
  while (stale < times.length && times[stale]! <= since) stale++;
  if (stale > 0) times.splice(0, stale);
}

/** Appends `atMs`, keeping at most `max` (the newest). */
function push(times: number[], atMs: number, max: number): void {
  times.push(atMs);
  if (times.length > max) times.splice(0, times.length - max);
}
