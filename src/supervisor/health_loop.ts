/**
 * One run's watch: the start-up readiness wait, then a health probe every interval until the run
 * ends (its signal aborts or a newer run replaces it). Results become lifecycle events.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServiceConfig, Settings } from "../config/schema.ts";
import type { InstanceEvent } from "../core/lifecycle.ts";
import { delay } from "./delay.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import type { Clock, Prober, ProbeResult } from "./ports.ts";
import { waitUntilReady } from "./readiness.ts";

const log = getLogger(["tenement", "supervisor"]);

/** Longest a single probe may take. */
export const PROBE_TIMEOUT_MS = 5_000;

/** What the health loop needs. */
export interface HealthLoopDeps {
  readonly prober: Prober;
  readonly clock: Clock;
  readonly settings: Settings;
  /** Applies a lifecycle event to an entry and carries out its effects. */
  readonly apply: (entry: InstanceEntry, event: InstanceEvent) => void;
  /** Run `generation` of an explicitly started entry never listened during its start-up. */
  readonly neverListened: (entry: InstanceEntry, generation: number) => void;
}

/** One run of an instance to watch. */
export interface WatchedRun {
  readonly entry: InstanceEntry;
  readonly svc: ServiceConfig;
  /** The entry's generation when the run started. */
  readonly generation: number;
  /** Ends the watch. */
  readonly signal: AbortSignal;
  /** The start slot, released once the instance is ready or its start-up time is over. */
  readonly startSlot: Disposable;
  /** False when the proxy must not connect to the run's socket (its user could swap it). */
  readonly trustSocket?: () => Promise<boolean>;
  /** Why the run's port is not its own (another uid listens on it); undefined when it is. */
  readonly checkPort?: () => Promise<string | undefined>;
}

/** Readiness, then periodic health checks, for one run of an instance. */
export async function watchRun(deps: HealthLoopDeps, run: WatchedRun): Promise<void> {
  const { entry, svc, generation, signal } = run;
  {
    using _slot = run.startSlot;
    let isRefused = false;
    const result = await waitUntilReady(() => probeOwnPort(deps.prober, run), {
      timeoutMs: svc.startupTimeoutMs,
      signal,
      clock: deps.clock,
      onProbe: (probe) => {
        isRefused = probe.isRefused === true;
        if (entry.generation !== generation) return;
        entry.lastProbe = probe.detail;
        if (!isRefused) entry.startTimes.listeningAtMs ??= deps.clock.now();
      },
    });
    if (entry.generation !== generation) return;
    entry.lastProbe = result.lastDetail;
    if (result.isReady) {
      entry.isSocketListening = await isSocketListening(deps.prober, entry, svc);
      if (entry.isSocketListening && run.trustSocket !== undefined) {
        entry.isSocketListening = await run.trustSocket();
      }
      if (entry.generation !== generation) return;
      deps.apply(entry, { kind: "became_ready", nowMs: deps.clock.now() });
    } else if (isRefused && entry.isExplicitStart) {
      deps.neverListened(entry, generation);
      return;
    } else {
      log.warn("{key} is not ready after {ms} ms: {detail}", {
        key: entry.key,
        ms: svc.startupTimeoutMs,
        detail: result.lastDetail,
      });
      deps.apply(entry, { kind: "startup_timed_out" });
    }
  }
  const intervalMs = deps.settings.healthCheckIntervalMs;
  while (!signal.aborted && entry.generation === generation) {
    await delay(intervalMs, { signal, clock: deps.clock });
    const result = await probeOwnPort(deps.prober, run);
    if (signal.aborted) return;
    applyProbe(deps, entry, result, generation);
  }
}

/** Records a probe result of run `generation`; ignored once that run is over. */
export function applyProbe(
  deps: HealthLoopDeps,
  entry: InstanceEntry,
  result: ProbeResult,
  generation: number,
): void {
  if (entry.generation !== generation || !entry.handle) return;
  entry.lastProbe = result.detail;
  deps.apply(entry, {
    kind: "probed",
    isPass: result.isPass,
    detail: result.detail,
    nowMs: deps.clock.now(),
    backoffResetMs: deps.settings.backoffResetMs,
  });
}

/**
 * Probes the run's instance; a pass counts only when the port is the run's own: a probe that
 * reached another uid's listener (which took the port while the app was starting) fails, so
 * neither readiness nor the proxy ever treat that listener as the instance.
 */
async function probeOwnPort(prober: Prober, run: WatchedRun): Promise<ProbeResult> {
  const result = await probeInstance(prober, run.entry, run.svc);
  if (!result.isPass || run.checkPort === undefined) return result;
  const why = await run.checkPort();
  return why === undefined ? result : { isPass: false, detail: why };
}

/**
 * Probes the entry: its HTTP health path when the service has one, else a connect; on its port,
 * or on its Unix socket when the service has no network (`network = "none"`).
 */
export function probeInstance(
  prober: Prober,
  entry: InstanceEntry,
  svc: ServiceConfig,
): Promise<ProbeResult> {
  const port = entry.port;
  if (port === undefined) return Promise.resolve({ isPass: false, detail: "not running" });
  const socketPath = svc.network === "none" ? entry.socketPath : undefined;
  if (socketPath === undefined) {
    return svc.health !== undefined
      ? prober.http(port, svc.health, PROBE_TIMEOUT_MS)
      : prober.tcp(port, PROBE_TIMEOUT_MS);
  }
  return svc.health !== undefined
    ? prober.http(port, svc.health, PROBE_TIMEOUT_MS, socketPath)
    : prober.tcp(port, PROBE_TIMEOUT_MS, socketPath);
}

/**
 * Whether the ready app accepts connections on its Unix socket: then the proxy prefers it, else
 * it goes over TCP (a socket path is set for every instance, but most apps only listen on PORT).
 */
async function isSocketListening(
  prober: Prober,
  entry: InstanceEntry,
  svc: ServiceConfig,
): Promise<boolean> {
  const socketPath = entry.socketPath;
  if (socketPath === undefined || entry.port === undefined) return false;
  if (svc.network === "none") return true;
  return (await prober.tcp(entry.port, SOCKET_CHECK_TIMEOUT_MS, socketPath)).isPass;
}

/** A local socket answers at once or not at all. */
const SOCKET_CHECK_TIMEOUT_MS = 1_000;
