/**
 * `max_awake`: how many instances may have a process at once, over all services
 * (`[settings] max_awake`) and per service (`[service.X] max_awake`). A wake that needs room
 * first puts the least recently used idle instance to sleep (in the same service for a
 * per-service limit, anywhere for the global one); when none can be stopped it waits, within
 * its bound, for one to become idle or stop, then gives up with 503.
 *
 * What counts: every instance with a process (starting, running, stopping) plus the wakes that
 * were given room and have not launched yet, so two wakes at once never both take the last
 * slot (room is decided one wake at a time). What may be evicted: a ready instance with no
 * request in flight or waiting, no operation under way, and not listed in `[instances]` (those
 * are the operator's always-on set: they count but are never stopped to make room).
 * @module
 */
import type { ServiceConfig } from "../config/schema.ts";
import { UnavailableError } from "../core/errors.ts";
import { isAwake } from "../core/lifecycle.ts";
import { delay } from "./delay.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import type { InstanceTable } from "./instance_table.ts";
import { KeyedLock } from "./keyed_lock.ts";
import type { LiveConfig } from "./live_config.ts";
import type { Clock, SupervisorMetrics } from "./ports.ts";
import type { Runner } from "./runner.ts";

/** Longest pause between two looks for room while every awake instance is busy. */
const ROOM_POLL_MS = 250;
/** Retry-After of a wake that found no room. */
const NO_ROOM_RETRY_AFTER_SECS = 5;

/** What the awake limit needs. */
export interface AwakeLimitDeps {
  readonly live: LiveConfig;
  readonly clock: Clock;
  readonly table: InstanceTable;
  readonly runner: Runner;
  readonly metrics?: SupervisorMetrics | undefined;
}

/** Options of {@linkcode AwakeLimit.makeRoom}. */
export interface MakeRoomOptions {
  /** Clock time after which the wake gives up with 503. */
  readonly deadlineMs: number;
  readonly signal?: AbortSignal;
}

/** One limit that is full, and where a victim may be taken from. */
interface FullLimit {
  readonly max: number;
  /** The service whose own limit is full; undefined for the global limit. */
  readonly service: string | undefined;
}

/** The room a wake holds until its instance has a process; dispose when the launch is over. */
const NO_RESERVATION: Disposable = { [Symbol.dispose]: () => {} };

/** Enforces `max_awake`; see the module doc. */
export class AwakeLimit {
  readonly #deps: AwakeLimitDeps;
  /** Wakes given room that have not launched yet. */
  readonly #reserved = new Set<InstanceEntry>();
  /** One wake decides at a time: the count and the reservation are one step. */
  readonly #turn = new KeyedLock();
  /** Victims a wake is stopping (outside the turn): no other wake picks them. */
  readonly #evicting = new Set<InstanceEntry>();

  constructor(deps: AwakeLimitDeps) {
    this.#deps = deps;
  }

  /**
   * Makes room for `entry` to wake under the limits in force, stopping least recently used idle
   * instances as needed; resolves with a reservation to dispose once the launch is over. Throws
   * UnavailableError (503, Retry-After) when no room was found by `deadlineMs`.
   */
  async makeRoom(
    entry: InstanceEntry,
    svc: ServiceConfig,
    options: MakeRoomOptions,
  ): Promise<Disposable> {
    const globalMax = this.#deps.live.current.settings.maxAwake;
    if (globalMax <= 0 && svc.maxAwake <= 0) return NO_RESERVATION;
    const { clock } = this.#deps;
    while (true) {
      options.signal?.throwIfAborted();
      let eviction: { victim: InstanceEntry; full: FullLimit } | undefined;
      {
        using _turn = await this.#turn.acquire("");
        if (this.#isCounted(entry)) return NO_RESERVATION;
        const full = this.#fullLimit(svc);
        if (full === undefined) return this.#reserve(entry);
        const victim = this.#leastRecentlyUsedIdle(full.service);
        if (victim !== undefined) {
          // Claimed under the turn, stopped outside it: a victim slow to stop (its grace
          // period) must not hold up every other wake.
          this.#evicting.add(victim);
          eviction = { victim, full };
        } else if (clock.now() >= options.deadlineMs) throw noRoomError(entry, full);
      }
      if (eviction !== undefined) {
        try {
          await this.#evict(eviction.victim, entry, eviction.full);
        } finally {
          this.#evicting.delete(eviction.victim);
        }
        continue;
      }
      const left = options.deadlineMs - clock.now();
      await delay(Math.min(left, ROOM_POLL_MS), { clock, ...optionalSignal(options.signal) });
    }
  }

  /**
   * The 503 to answer when `entry` is still waiting for room (no process, no room held, a
   * limit full), else undefined: for a request whose own wait ends first.
   */
  noRoomFor(entry: InstanceEntry, svc: ServiceConfig): UnavailableError | undefined {
    if (this.#isCounted(entry)) return undefined;
    const full = this.#fullLimit(svc);
    return full === undefined ? undefined : noRoomError(entry, full);
  }

  /** True when the entry counts: it has a process, or a wake of it holds room. */
  #isCounted(e: InstanceEntry): boolean {
    return e.handle !== undefined || isAwake(e.state) || this.#reserved.has(e);
  }

  #reserve(entry: InstanceEntry): Disposable {
    this.#reserved.add(entry);
    return { [Symbol.dispose]: () => this.#reserved.delete(entry) };
  }

  /** The limit a new wake of `svc` would exceed: the service's own first, then the global. */
  #fullLimit(svc: ServiceConfig): FullLimit | undefined {
    if (svc.maxAwake > 0) {
      let count = 0;
      for (const e of this.#deps.table.ofService(svc.name)) if (this.#isCounted(e)) count++;
      if (count >= svc.maxAwake) return { max: svc.maxAwake, service: svc.name };
    }
    const globalMax = this.#deps.live.current.settings.maxAwake;
    if (globalMax > 0) {
      let count = 0;
      for (const e of this.#deps.table.values()) if (this.#isCounted(e)) count++;
      if (count >= globalMax) return { max: globalMax, service: undefined };
    }
    return undefined;
  }

  /** The idle instance (of `service`, or any) whose last request is the oldest. */
  #leastRecentlyUsedIdle(service: string | undefined): InstanceEntry | undefined {
    const { table } = this.#deps;
    let best: InstanceEntry | undefined;
    let bestMs = Infinity;
    for (const e of service === undefined ? table.values() : table.ofService(service)) {
      if (!this.#isEvictable(e)) continue;
      const usedMs = lastUsedMs(e);
      if (usedMs < bestMs) [best, bestMs] = [e, usedMs];
    }
    return best;
  }

  #isEvictable(e: InstanceEntry): boolean {
    return isIdleReady(e) && e.origin !== "config" && !this.#reserved.has(e) &&
      !this.#evicting.has(e) && !this.#deps.runner.locks.isBusy(e.key);
  }

  /** Puts `victim` to sleep to make room for `entry` (unless a request reached it meanwhile). */
  async #evict(victim: InstanceEntry, entry: InstanceEntry, full: FullLimit): Promise<void> {
    const why = `to make room for ${entry.key} (${describeLimit(full)})`;
    let isEvicted = false;
    // Checked again under the instance's lock: a request may have reached it meanwhile.
    await this.#deps.runner.stop(victim, "asleep", why, () => (isEvicted = isIdleReady(victim)));
    if (isEvicted) this.#deps.metrics?.evicted?.(victim.service);
  }
}

/** Ready with no request in flight or waiting. */
function isIdleReady(e: InstanceEntry): boolean {
  return e.state.kind === "ready" && e.activeRequests + e.waitingRequests === 0;
}

/** When an instance was last used: its last request, or when it became ready if later. */
function lastUsedMs(e: InstanceEntry): number {
  return e.state.kind === "ready"
    ? Math.max(e.lastActivityMs, e.state.readyAtMs)
    : e.lastActivityMs;
}

function noRoomError(entry: InstanceEntry, full: FullLimit): UnavailableError {
  const where = full.service === undefined ? "" : `of "${full.service}" `;
  return new UnavailableError(
    `Cannot wake ${entry.key}: ${
      describeLimit(full)
    } reached and every awake instance ${where}is busy`,
    NO_ROOM_RETRY_AFTER_SECS,
  );
}

function describeLimit(full: FullLimit): string {
  return full.service === undefined
    ? `max_awake = ${full.max}`
    : `max_awake = ${full.max} of "${full.service}"`;
}

function optionalSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
