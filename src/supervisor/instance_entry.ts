/**
 * The supervisor's record of one instance: plain data plus the live handle of its current run.
 * Only the supervisor mutates entries; everyone else sees `InstanceSnapshot`s.
 * @module
 */
import type { Health, InstanceStatus } from "../core/lifecycle.ts";
import type { InstanceKey } from "../core/instance_key.ts";
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
}

/** Mutable supervisor state of one instance. */
export interface InstanceEntry {
  readonly key: InstanceKey;
  readonly service: string;
  readonly id: string;
  origin: StoredInstance["origin"];
  desired: StoredInstance["desired"];
  status: InstanceStatus;
  health: Health;
  isReady: boolean;
  weight: number;
  /** Increases with every start; callbacks of older runs compare it and do nothing. */
  generation: number;
  handle: ProcessHandle | undefined;
  port: number | undefined;
  socketPath: string | undefined;
  startedAtMs: number | undefined;
  readyAtMs: number | undefined;
  lastActivityMs: number;
  activeRequests: number;
  waitingRequests: number;
  healthFailures: number;
  lastProbe: string | undefined;
  crashCount: number;
  restartTimesMs: number[];
  restartsTotal: number;
  lastStderr: string;
  /** The last few stderr lines of the current or last run, for deploy failure reports. */
  stderrTail: string[];
  reason: string | undefined;
  retryAtMs: number | undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Aborts the health loop of the current run. */
  runController: AbortController | undefined;
  /** Resolves (and is replaced) on every change, for waiters. */
  changed: PromiseWithResolvers<void>;
  persistChain: Promise<void>;
  /** The proxy target of the current run, reused request after request while it is unchanged. */
  target: Target | undefined;
}

/** A fresh entry for an instance that is not running. */
export function newEntry(
  service: string,
  id: string,
  fields: Pick<InstanceEntry, "origin" | "desired" | "status" | "weight" | "restartsTotal">,
  nowMs: number,
): InstanceEntry {
  return {
    key: `${service}:${id}`,
    service,
    id,
    ...fields,
    health: "unknown",
    isReady: false,
    generation: 0,
    handle: undefined,
    port: undefined,
    socketPath: undefined,
    startedAtMs: undefined,
    readyAtMs: undefined,
    lastActivityMs: nowMs,
    activeRequests: 0,
    waitingRequests: 0,
    healthFailures: 0,
    lastProbe: undefined,
    crashCount: 0,
    restartTimesMs: [],
    lastStderr: "",
    stderrTail: [],
    reason: undefined,
    retryAtMs: undefined,
    retryTimer: undefined,
    runController: undefined,
    changed: Promise.withResolvers<void>(),
    persistChain: Promise.resolve(),
    target: undefined,
  };
}

/** The read-only view of an entry. */
export function snapshotOf(e: InstanceEntry): InstanceSnapshot {
  return {
    key: e.key,
    service: e.service,
    id: e.id,
    status: e.status,
    health: e.status === "failed" ? "failed" : e.health,
    pid: e.handle?.pid,
    port: e.port,
    socketPath: e.socketPath,
    weight: e.weight,
    startedAtMs: e.startedAtMs,
    lastActivityMs: e.lastActivityMs,
    activeRequests: e.activeRequests,
    restarts: e.restartsTotal,
    reason: e.reason,
    origin: e.origin,
    retryAtMs: e.retryAtMs,
  };
}
