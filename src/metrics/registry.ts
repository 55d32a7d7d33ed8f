/**
 * The registry of every family tenement exports on `/metrics`, in order, with the hooks the
 * supervisor, the log store, the resource sampler and the daemon call.
 * @module
 */
import {
  type Family,
  type FamilySnapshot,
  HistogramFamily,
  RequestFamily,
  ValueFamily,
} from "./metric_families.ts";

/** How long each step of a wake took, in milliseconds (see `supervisor/wake_report.ts`). */
export interface WakePhasesMs {
  /** Waiting for the instance's lock and a start slot. */
  readonly queued: number;
  /** Port, data dir and process start. */
  readonly spawned: number;
  /** Until the port accepted a connection. */
  readonly listening: number;
  /** Until the readiness check passed. */
  readonly healthy: number;
}

/** A wake: from the waking request's arrival to the instance being ready. */
export interface WakeTimes {
  readonly totalMs: number;
  readonly phasesMs: WakePhasesMs;
}

/** The wake phases, in order, as the `phase` label has them. */
export const WAKE_PHASES: readonly (keyof WakePhasesMs)[] = [
  "queued",
  "spawned",
  "listening",
  "healthy",
];

/** Resource use of one awake instance, as the resource sampler measured it. */
export interface InstanceUsage {
  readonly process: string;
  readonly instance: string;
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

const REQUEST_BOUNDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const WAKE_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every metric tenement exports, in `/metrics` order, with the hooks the supervisor, the log
 * store and the daemon call. Gauges that are read at scrape time are filled by the collectors
 * registered with {@linkcode MetricsRegistry.onCollect}.
 */
export class MetricsRegistry {
  readonly requests = new RequestFamily(
    "tenement_requests_total",
    "Proxied HTTP requests by instance and response status class",
  );
  readonly requestDuration = new HistogramFamily(
    "tenement_request_duration_seconds",
    "Proxied request duration until the response head was sent, in seconds",
    REQUEST_BOUNDS,
  );
  readonly wakes = new ValueFamily(
    "tenement_wakes_total",
    "Instances woken from sleep by a request",
    "counter",
  );
  readonly wakeDuration = new HistogramFamily(
    "tenement_wake_duration_seconds",
    "Time a request waited for the instance it woke, from its arrival to the instance being ready",
    WAKE_BOUNDS,
  );
  readonly wakePhaseDuration = new HistogramFamily(
    "tenement_wake_phase_duration_seconds",
    "Time of each step of a wake, per service: queued (lock and start slot), spawned (process start), listening (until the port accepts), healthy (until the readiness check passes)",
    WAKE_BOUNDS,
  );
  readonly instancesUp = new ValueFamily(
    "tenement_instances_up",
    "Instances with a running process",
    "gauge",
  );
  readonly instancesByStatus = new ValueFamily(
    "tenement_instances",
    "Known instances by lifecycle status",
    "gauge",
  );
  readonly healthy = new ValueFamily(
    "tenement_instance_healthy",
    "1 when the instance's last health check passed (running instances only)",
    "gauge",
  );
  readonly restarts = new ValueFamily(
    "tenement_instance_restarts_total",
    "Restarts of an instance after its process ended or failed its health checks",
    "counter",
  );
  readonly idleStops = new ValueFamily(
    "tenement_idle_stops_total",
    "Instances put to sleep after their service's idle_timeout without a request",
    "counter",
  );
  readonly evictions = new ValueFamily(
    "tenement_evictions_total",
    "Instances put to sleep to make room under max_awake",
    "counter",
  );
  readonly oomKills = new ValueFamily(
    "tenement_oom_kills_total",
    "Runs of an instance ended by the kernel's OOM killer at its memory_limit_mb",
    "counter",
  );
  readonly memory = new ValueFamily(
    "tenement_instance_resident_memory_bytes",
    "Resident memory of an awake instance's processes (its cgroup's charge when it has one), sampled every few seconds",
    "gauge",
  );
  readonly cpu = new ValueFamily(
    "tenement_instance_cpu_seconds_total",
    "CPU time (user and system) of an awake instance's processes since it started, sampled every few seconds",
    "counter",
  );
  readonly logLines = new ValueFamily(
    "tenement_log_lines_total",
    "Log lines (and lifecycle events) written to the log store",
    "counter",
  );
  readonly logLinesDropped = new ValueFamily(
    "tenement_log_lines_dropped_total",
    "Log lines dropped because the log writer fell behind",
    "counter",
  );
  readonly daemonMemory = new ValueFamily(
    "tenement_daemon_resident_memory_bytes",
    "Resident memory of the tenement daemon itself",
    "gauge",
  );
  readonly connections = new ValueFamily(
    "tenement_client_connections",
    "Client connections open on the daemon's public listeners",
    "gauge",
  );
  readonly eventLoopLag = new ValueFamily(
    "tenement_event_loop_lag_seconds",
    "Largest delay of the daemon's event loop over the last 30 seconds",
    "gauge",
  );
  readonly certificateExpiry = new ValueFamily(
    "tenement_tls_certificate_expiry_timestamp_seconds",
    "When each built-in TLS certificate expires (Unix time); alert well before it passes",
    "gauge",
  );

  /** Whether the certificate family is listed (only with built-in TLS). */
  hasCertificates = false;
  readonly #collectors: Array<() => void> = [];

  /** Every family, in `/metrics` order. */
  get families(): readonly Family[] {
    return [
      this.requests,
      this.requestDuration,
      this.wakes,
      this.wakeDuration,
      this.wakePhaseDuration,
      this.instancesUp,
      this.instancesByStatus,
      this.healthy,
      this.restarts,
      this.idleStops,
      this.evictions,
      this.oomKills,
      this.memory,
      this.cpu,
      this.logLines,
      this.logLinesDropped,
      this.daemonMemory,
      this.connections,
      this.eventLoopLag,
      ...(this.hasCertificates ? [this.certificateExpiry] : []),
    ];
  }

  /** Runs `collect` before each {@linkcode MetricsRegistry.snapshot}, to refresh gauges. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** Refreshes the collected gauges and returns every family's values, in order. */
  snapshot(): FamilySnapshot[] {
    for (const collect of this.#collectors) collect();
    return this.families.map((family) => family.snapshot());
  }

  /** Drops every series of a forgotten instance, in every family. */
  forget(process: string, instance: string): void {
    for (const family of this.families) family.forget(process, instance);
  }

  /** Log store hook: `lines` written for an instance. */
  written(process: string, instance: string, lines: number): void {
    this.logLines.inc({ instance, process }, lines);
  }

  /** Log store hook: `lines` dropped for an instance. */
  dropped(process: string, instance: string, lines: number): void {
    this.logLinesDropped.inc({ instance, process }, lines);
  }

  /** Supervisor hook: one restart. */
  restarted(process: string, instance: string): void {
    this.restarts.inc({ instance, process });
  }

  /** Supervisor hook: the OOM killer ended a run. */
  oomKilled(process: string, instance: string): void {
    this.oomKills.inc({ instance, process });
  }

  /** Supervisor hook: a request woke the instance; `wake` says how long each step took. */
  woke(process: string, instance: string, wake: WakeTimes): void {
    const labels = { instance, process };
    this.wakes.inc(labels);
    this.wakeDuration.observe(labels, wake.totalMs / 1000);
    for (const phase of WAKE_PHASES) {
      // Per service, not per instance: four histograms per tenant would be most of a scrape at
      // 1000 tenants. One wake's phases are in its `woke for a request` event.
      this.wakePhaseDuration.observe({ phase, process }, wake.phasesMs[phase] / 1000);
    }
  }

  /** Supervisor hook: the idle sweep put an instance to sleep. */
  idleStopped(process: string, instance: string): void {
    this.idleStops.inc({ instance, process });
  }

  /** Supervisor hook: an instance of `process` was stopped to make room under max_awake. */
  evicted(process: string): void {
    this.evictions.inc({ process });
  }

  /** Supervisor hook: the instance was forgotten (`ten rm`, or unused and request-created). */
  forgotten(process: string, instance: string): void {
    this.forget(process, instance);
  }

  /** Resource sampler hook: the use of every awake instance (others lose their series). */
  sampled(usage: readonly InstanceUsage[]): void {
    this.memory.clear();
    this.cpu.clear();
    for (const use of usage) {
      const labels = { instance: use.instance, process: use.process };
      this.memory.set(labels, use.rssBytes);
      this.cpu.set(labels, use.cpuSeconds);
    }
  }
}
