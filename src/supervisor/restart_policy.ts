/**
 * The restart policy at work: counts crashes and restarts of an instance, asks the pure
 * `decideAfterEnd` what follows an unplanned end, and owns the retry timer of a backoff or failed
 * instance.
 * @module
 */
import type { Settings } from "../config/schema.ts";
import type { RestartPolicy as RestartSetting } from "../config/schema.ts";
import { decideAfterEnd, type ExitDecision, type RunEnd } from "../core/exit_decision.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import type { Clock } from "./ports.ts";

/** Fraction of a backoff delay added or removed at random, so crashed instances spread out. */
const BACKOFF_JITTER = 0.2;

/** Restart bookkeeping and retry timers. */
export class RestartPolicy {
  readonly #settings: () => Settings;
  readonly #clock: Clock;
  readonly #onRetryDue: (entry: InstanceEntry) => void;

  /**
   * `settings` gives the settings in force (they may be reloaded); `onRetryDue` runs when a
   * scheduled retry's time has come.
   */
  constructor(
    settings: () => Settings,
    clock: Clock,
    onRetryDue: (entry: InstanceEntry) => void,
  ) {
    this.#settings = settings;
    this.#clock = clock;
    this.#onRetryDue = onRetryDue;
  }

  /** Records one more unplanned end of `entry` and decides what follows it. */
  decide(entry: InstanceEntry, end: RunEnd, restart: RestartSetting): ExitDecision {
    const settings = this.#settings();
    entry.crashCount++;
    const decision = decideAfterEnd(end, {
      crashCount: entry.crashCount,
      restartTimesMs: entry.restartTimesMs,
      nowMs: this.#clock.now(),
      random: this.#clock.random(),
    }, {
      restart,
      maxRestarts: settings.maxRestarts,
      restartWindowMs: settings.restartWindowMs,
      backoff: {
        baseMs: settings.backoffBaseMs,
        maxMs: settings.backoffMaxMs,
        jitter: BACKOFF_JITTER,
      },
    });
    if (decision.kind !== "stay_stopped") entry.restartTimesMs = decision.restartTimesMs;
    return decision;
  }

  /** Forgets crashes and restarts (a user's start of a failed instance, `ten restart`). */
  forget(entry: InstanceEntry): void {
    entry.crashCount = 0;
    entry.restartTimesMs = [];
  }

  /** Starts (or replaces) the entry's retry timer. */
  schedule(entry: InstanceEntry, delayMs: number): void {
    this.cancel(entry);
    entry.retryTimer = this.#clock.setTimer(() => {
      entry.retryTimer = undefined;
      this.#onRetryDue(entry);
    }, delayMs);
  }

  /** Drops the entry's pending retry, if any. */
  cancel(entry: InstanceEntry): void {
    entry.retryTimer?.[Symbol.dispose]();
    entry.retryTimer = undefined;
  }
}
