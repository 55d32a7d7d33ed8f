/**
 * The per-client gates of the request path: `wake_rate_per_client` (wakes of asleep or stopped
 * instances) and `auto_create_rate_per_client` (instances created by a request's Host), each a
 * bounded sliding-window limiter per client address (`core/client_rate.ts`). The rates in force
 * are read on every use, so a reload applies them at once (counts start afresh when one changes).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Settings } from "../config/schema.ts";
import { ClientRateLimiter, type Rate } from "../core/client_rate.ts";
import { RateLimitedError } from "../core/errors.ts";

const log = getLogger(["tenement", "supervisor"]);

/** Per-client wake and creation limits; see the module doc. */
export class ClientGates {
  readonly #settings: () => Settings;
  readonly #now: () => number;
  #wakes = new ClientRateLimiter({ count: 0, windowMs: 1 });
  #creations = new ClientRateLimiter({ count: 0, windowMs: 1 });

  constructor(settings: () => Settings, now: () => number) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Counts a wake of `key` by `clientIp`; throws RateLimitedError (429) when over the rate. */
  admitWake(key: string, clientIp: string): void {
    const rate = this.#settings().wakeRatePerClient;
    if (!isSameRate(this.#wakes.rate, rate)) this.#wakes = new ClientRateLimiter(rate);
    const verdict = this.#wakes.take(clientIp, this.#now());
    if (!verdict.isLimited) return;
    log.warn("Refused to wake {key} for {client}: wake_rate_per_client reached", {
      key,
      client: clientIp,
    });
    throw new RateLimitedError("Too many wakes from this client", verdict.retryAfterSeconds);
  }

  /** Counts a creation of `key` by `clientIp`; throws RateLimitedError (429) when over. */
  admitCreate(key: string, clientIp: string): void {
    const rate = this.#settings().autoCreateRatePerClient;
    if (!isSameRate(this.#creations.rate, rate)) this.#creations = new ClientRateLimiter(rate);
    const verdict = this.#creations.take(clientIp, this.#now());
    if (!verdict.isLimited) return;
    log.warn(
      "Refused to create {key} on request of {client}: auto_create_rate_per_client reached",
      { key, client: clientIp },
    );
    throw new RateLimitedError(
      "Too many new instances from this client",
      verdict.retryAfterSeconds,
    );
  }
}

function isSameRate(a: Rate, b: Rate): boolean {
  return a.count === b.count && a.windowMs === b.windowMs;
}
