/**
 * Counters, gauges and histograms keyed by label sets, kept in memory for `/metrics`, and the
 * registry of every family tenement exports. Series that name an instance carry the labels
 * `process` (the service) and `instance` (the id), and are dropped when the instance is forgotten.
 * @module
 */

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One metric family's current values. */
export interface FamilySnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly series: ReadonlyArray<SeriesSnapshot>;
}

/** One labelled series. */
export interface SeriesSnapshot {
  readonly labels: Labels;
  /** Counter or gauge value. */
  readonly value?: number;
  /** Histogram: upper bounds with cumulative counts, plus sum and count. */
  readonly buckets?: ReadonlyArray<readonly [number, number]>;
  readonly sum?: number;
  readonly count?: number;
}

/** A family the registry can list and forget instances in. */
export interface Family {
  readonly name: string;
  snapshot(): FamilySnapshot;
  /** Drops the series of instance `instance` of service `process`. */
  forget(process: string, instance: string): void;
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((name) => `${name}=${labels[name]}`).join("\u0000");
}

function isOf(labels: Labels, process: string, instance: string): boolean {
  return labels["process"] === process && labels["instance"] === instance;
}

/** A counter or gauge family. */
export class ValueFamily implements Family {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge",
  ) {}

  /** Adds `by` (default 1). */
  inc(labels: Labels = {}, by = 1): void {
    this.series(labels).value += by;
  }

  /** The series for `labels`, created at 0: keep it to count without looking it up again. */
  series(labels: Labels): { readonly labels: Labels; value: number } {
    const key = labelKey(labels);
    let series = this.#values.get(key);
    if (series === undefined) {
      series = { labels, value: 0 };
      this.#values.set(key, series);
    }
    return series;
  }

  /** Sets the value (gauges). */
  set(labels: Labels, value: number): void {
    this.#values.set(labelKey(labels), { labels, value });
  }

  /** The value of one series (0 when never set). */
  get(labels: Labels): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  /** Drops every series. */
  clear(): void {
    this.#values.clear();
  }

  forget(process: string, instance: string): void {
    for (const [key, series] of this.#values) {
      if (isOf(series.labels, process, instance)) this.#values.delete(key);
    }
  }

  /** Current values. */
  snapshot(): FamilySnapshot {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      series: [...this.#values.values()].map((series) => ({
        labels: series.labels,
        value: series.value,
      })),
    };
  }
}

/** HTTP status classes, by the status's first digit (index 0 is unused). */
const STATUS_CLASSES = ["", "1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** The request counts of one instance, by status class: what the proxy bumps per response. */
export class RequestCounts {
  /** Counts by the status's first digit, 1–5. */
  readonly byClass: number[] = [0, 0, 0, 0, 0, 0];
  constructor(readonly labels: Labels) {}

  /** Counts one response with `status` (out-of-range statuses count as 5xx). */
  count(status: number): void {
    const digit = (status / 100) | 0;
    this.byClass[digit >= 1 && digit <= 5 ? digit : 5]!++;
  }

  /** Responses of every class. */
  get total(): number {
    return this.byClass.reduce((sum, n) => sum + n, 0);
  }
}

/**
 * A counter of proxied requests by instance and status class (label `code`: `2xx`, `4xx`, …).
 * The proxy holds one {@linkcode RequestCounts} per instance, so a request costs an increment.
 */
export class RequestFamily implements Family {
  readonly #series = new Map<string, RequestCounts>();
  constructor(readonly name: string, readonly help: string) {}

  /** The counts for `labels` (`{instance, process}`): keep them to count without a look-up. */
  series(labels: Labels): RequestCounts {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new RequestCounts(labels);
      this.#series.set(key, series);
    }
    return series;
  }

  /** Requests of one instance (`{instance, process}`), summed over the status classes. */
  get(labels: Labels): number {
    return this.#series.get(labelKey(labels))?.total ?? 0;
  }

  forget(process: string, instance: string): void {
    for (const [key, series] of this.#series) {
      if (isOf(series.labels, process, instance)) this.#series.delete(key);
    }
  }

  /** Current values: one series per status class seen. */
  snapshot(): FamilySnapshot {
    const series: SeriesSnapshot[] = [];
    for (const counts of this.#series.values()) {
      for (let digit = 1; digit <= 5; digit++) {
        const value = counts.byClass[digit]!;
        if (value > 0) {
          series.push({ labels: { ...counts.labels, code: STATUS_CLASSES[digit]! }, value });
        }
      }
    }
    return { name: this.name, help: this.help, type: "counter", series };
  }
}

/** One labelled series of a histogram. */
export class HistogramSeries {
  /** Observations in each bucket (not cumulative); the last one is above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly labels: Labels, readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records one observation. */
  observe(value: number): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) index++;
    this.counts[index]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound (without +Inf, which is `count`). */
  cumulative(): number[] {
    let running = 0;
    return this.bounds.map((_bound, index) => running += this.counts[index]!);
  }
}

/** A histogram family with fixed buckets, in seconds. */
export class HistogramFamily implements Family {
  readonly #series = new Map<string, HistogramSeries>();
  constructor(readonly name: string, readonly help: string, readonly bounds: readonly number[]) {}

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    this.series(labels).observe(value);
  }

  /** The series for `labels`: keep it to record without looking it up again. */
  series(labels: Labels): HistogramSeries {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new HistogramSeries(labels, this.bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  /**
   * Count, sum and an upper-bound estimate of the 99th percentile of one series, in
   * milliseconds (the family observes seconds).
   */
  summary(labels: Labels): { count: number; sum: number; p99: number } {
    const series = this.#series.get(labelKey(labels));
    if (!series || series.count === 0) return { count: 0, sum: 0, p99: 0 };
    const rank = Math.ceil(series.count * 0.99);
    const bucket = series.cumulative().findIndex((count) => count >= rank);
    const bound = bucket < 0 ? this.bounds[this.bounds.length - 1]! : this.bounds[bucket]!;
    return { count: series.count, sum: series.sum * 1000, p99: bound * 1000 };
  }

  forget(process: string, instance: string): void {
    for (const [key, series] of this.#series) {
      if (isOf(series.labels, process, instance)) this.#series.delete(key);
    }
  }

  /** Current values. */
  snapshot(): FamilySnapshot {
    return {
      name: this.name,
      help: this.help,
      type: "histogram",
      series: [...this.#series.values()].map((series) => {
        const cumulative = series.cumulative();
        return {
          labels: series.labels,
          buckets: this.bounds.map((bound, index) => [bound, cumulative[index]!] as const),
          sum: series.sum,
          count: series.count,
        };
      }),
    };
  }
}

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
    "Time of each step of a wake: queued (lock and start slot), spawned (process start), listening (until the port accepts), healthy (until the readiness check passes)",
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
      this.wakePhaseDuration.observe({ instance, phase, process }, wake.phasesMs[phase] / 1000);
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
