/**
 * The supervisor's record of one instance: its lifecycle state (`core/lifecycle.ts`), plain data,
 * and the live handle of its current run. Only the supervisor mutates entries; everyone else sees
 * `InstanceSnapshot`s.
 * @module
 */
import {
  type Health,
  healthOf,
  type InstanceState,
  type InstanceStatus,
  reasonOf,
  retryAtOf,
  statusOf,
} from "../core/lifecycle.ts";
import { formatInstanceKey, type InstanceKey } from "../core/instance_key.ts";
import type { ServiceConfig } from "../config/schema.ts";
import type { ProcessHandle, StoredInstance } from "./ports.ts";
import type { Target } from "../proxy/target.ts";

/** A read-only view of an instance for the API, the CLI and the proxy. */
export interface InstanceSnapshot {
  readonly key: InstanceKey;
  readonly service: string;
  readonly id: string;
  readonly status: InstanceStatus;
  readonly health: Health;
  readonly pid: number | undefined;
  readonly port: number | undefined;
  readonly socketPath: string | undefined;
  readonly weight: number;
  readonly startedAtMs: number | undefined;
  readonly lastActivityMs: number;
  readonly activeRequests: number;
  readonly restarts: number;
  /** Why the instance is failed, stopped on its own, or backing off. */
  readonly reason: string | undefined;
  readonly origin: StoredInstance["origin"];
  /** When a backoff or failed instance is started again. */
  readonly retryAtMs: number | undefined;
  /** Disabled by the operator (`ten disable`): stopped, and no request wakes it. */
  readonly isDisabled: boolean;
}

/** Mutable supervisor state of one instance. */
export interface InstanceEntry {
  readonly key: InstanceKey;
  readonly service: string;
  readonly id: string;
  origin: StoredInstance["origin"];
  desired: StoredInstance["desired"];
  /** Where the instance is in its life; changed only through `transition()`. */
  state: InstanceState;
  weight: number;
  /** Increases with every start; callbacks of older runs compare it and do nothing. */
  generation: number;
  /**
   * The current run was started (or its start-up is awaited) by an explicit spawn, restart or
   * deploy: if it exits or never listens before its start-up is over, it is stopped rather than
   * restarted. The restart policy is for runs that have listened.
   */
  isExplicitStart: boolean;
  /** Why the explicit start of the current run failed and the instance was stopped. */
  startupFailure: string | undefined;
  handle: ProcessHandle | undefined;
  /**
   * The service definition the current (or last) run was started from: a reload changes the
   * config, not a process that already runs.
   */
  definition: ServiceConfig | undefined;
  /** Forgotten (`ten rm`): no longer in the table, never started or stored again. */
  isForgotten: boolean;
  /**
   * Was ready at least once (in this daemon's life, or restored from the store): a request-created
   * instance that never was is forgotten once its start failed (`idle_sweep.ts`).
   */
  hasBeenReady: boolean;
  /** Disabled by the operator (`ten disable`): nothing starts it until `ten enable`. */
  isDisabled: boolean;
  /** When a request found the instance asleep or stopped and woke it; taken by the next launch. */
  wakeRequestedAtMs: number | undefined;
  /** Times of the current run's start, for the wake report. */
  startTimes: StartTimes;
  port: number | undefined;
  socketPath: string | undefined;
  /** The current run's app accepts connections on `socketPath` (the proxy then prefers it). */
  isSocketListening: boolean;
  startedAtMs: number | undefined;
  lastActivityMs: number;
  activeRequests: number;
  waitingRequests: number;
  lastProbe: string | undefined;
  /** Consecutive unplanned ends, for the backoff. */
  crashCount: number;
  /** Restart times inside the restart window, for the budget. */
  restartTimesMs: number[];
  restartsTotal: number;
  lastStderr: string;
  /** The last few stderr lines of the current or last run, for deploy failure reports. */
  stderrTail: string[];
  /** The pending restart of a backoff or failed instance. */
  retryTimer: Disposable | undefined;
  /** Aborts the health loop of the current run. */
  runController: AbortController | undefined;
  /** Resolves (and is replaced) on every change, for waiters. */
  changed: PromiseWithResolvers<void>;
  persistChain: Promise<void>;
  /** The proxy target of the current run, reused request after request while it is unchanged. */
  target: Target | undefined;
}

/** Milestones of one start, in clock milliseconds (undefined until reached). */
export interface StartTimes {
  /** A request found the instance asleep or stopped and woke it (undefined for other starts). */
  requestedAtMs: number | undefined;
  /** A start slot was free and the launch began. */
  launchingAtMs: number | undefined;
  /** The process was started. */
  launchedAtMs: number | undefined;
  /** A probe first reached something listening on the instance's port. */
  listeningAtMs: number | undefined;
}

/** A fresh entry for an instance that is not running. */
export function newEntry(
  service: string,
  id: string,
  fields: Pick<InstanceEntry, "origin" | "desired" | "state" | "weight" | "restartsTotal">,
  nowMs: number,
): InstanceEntry {
  return {
    key: formatInstanceKey({ service, id }),
    service,
    id,
    ...fields,
    generation: 0,
    isExplicitStart: false,
    startupFailure: undefined,
    handle: undefined,
    definition: undefined,
    isForgotten: false,
    hasBeenReady: false,
    isDisabled: false,
    wakeRequestedAtMs: undefined,
    startTimes: {
      requestedAtMs: undefined,
      launchingAtMs: undefined,
      launchedAtMs: undefined,
      listeningAtMs: undefined,
    },
    port: undefined,
    socketPath: undefined,
    isSocketListening: false,
    startedAtMs: undefined,
    lastActivityMs: nowMs,
    activeRequests: 0,
    waitingRequests: 0,
    lastProbe: undefined,
    crashCount: 0,
    restartTimesMs: [],
    lastStderr: "",
    stderrTail: [],
    retryTimer: undefined,
    runController: undefined,
    changed: Promise.withResolvers<void>(),
    persistChain: Promise.resolve(),
    target: undefined,
  };
}

/** Wakes everyone waiting for a change of the entry. */
export function notifyChanged(entry: InstanceEntry): void {
  const previous = entry.changed;
  entry.changed = Promise.withResolvers<void>();
  previous.resolve();
}

/** The read-only view of an entry. */
export function snapshotOf(e: InstanceEntry): InstanceSnapshot {
  return {
    key: e.key,
    service: e.service,
    id: e.id,
    status: statusOf(e.state),
    health: healthOf(e.state),
    pid: e.handle?.pid,
    port: e.port,
    socketPath: e.socketPath,
    weight: e.weight,
    startedAtMs: e.startedAtMs,
    lastActivityMs: e.lastActivityMs,
    activeRequests: e.activeRequests,
    restarts: e.restartsTotal,
    reason: reasonOf(e.state),
    origin: e.origin,
    retryAtMs: retryAtOf(e.state),
    isDisabled: e.isDisabled,
  };
}
