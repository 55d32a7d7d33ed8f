/**
 * Counters, gauges and histograms keyed by label sets, kept in memory for `/metrics`.
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

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((name) => `${name}=${labels[name]}`).join("\u0000");
}

/** A counter or gauge family. */
export class ValueFamily {
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

/** One labelled series of a histogram. */
export class HistogramSeries {
  /** Observations at or below each bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly labels: Labels, readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  /** Records one observation. */
  observe(value: number): void {
    const bounds = this.bounds;
    for (let index = 0; index < bounds.length; index++) {
      if (value <= bounds[index]!) this.counts[index]!++;
    }
    this.sum += value;
    this.count++;
  }
}

/** A histogram family with fixed buckets. */
export class HistogramFamily {
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

  /** Count, sum and an upper-bound estimate of the 99th percentile for one series. */
  summary(labels: Labels): { count: number; sum: number; p99: number } {
    const series = this.#series.get(labelKey(labels));
    if (!series || series.count === 0) return { count: 0, sum: 0, p99: 0 };
    const rank = Math.ceil(series.count * 0.99);
    const bucket = series.counts.findIndex((count) => count >= rank);
    return {
      count: series.count,
      sum: series.sum,
      p99: bucket < 0 ? this.bounds[this.bounds.length - 1]! : this.bounds[bucket]!,
    };
  }

  /** Current values. */
  snapshot(): FamilySnapshot {
    return {
      name: this.name,
      help: this.help,
      type: "histogram",
      series: [...this.#series.values()].map((series) => ({
        labels: series.labels,
        buckets: this.bounds.map((bound, index) => [bound, series.counts[index]!] as const),
        sum: series.sum,
        count: series.count,
      })),
    };
  }
}

/** Every metric tenement exports. */
export class MetricsRegistry {
  readonly requests = new ValueFamily(
    "tenement_requests_total",
    "Total number of HTTP requests",
    "counter",
  );
  readonly requestDuration = new HistogramFamily(
    "tenement_request_duration_ms",
    "Proxied request duration until response headers, in milliseconds",
    [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
  );
  readonly restarts = new ValueFamily(
    "tenement_instance_restarts_total",
    "Restarts of an instance",
    "counter",
  );
  readonly oomKills = new ValueFamily(
    "tenement_oom_kills_total",
    "Runs of an instance ended by the kernel's OOM killer at its memory_limit_mb",
    "counter",
  );
  readonly wakeDuration = new HistogramFamily(
    "tenement_wake_duration_seconds",
    "Time from process start to ready",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );

  readonly evictions = new ValueFamily(
    "tenement_evictions_total",
    "Instances put to sleep to make room under max_awake",
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

  /** Log store hook: `lines` written for an instance. */
  written(service: string, id: string, lines: number): void {
    this.logLines.inc({ instance: id, service }, lines);
  }

  /** Log store hook: `lines` dropped for an instance. */
  dropped(service: string, id: string, lines: number): void {
    this.logLinesDropped.inc({ instance: id, service }, lines);
  }

  /** Supervisor hook: one restart. */
  restarted(service: string, id: string): void {
    this.restarts.inc({ id, process: service });
  }

  /** Supervisor hook: the OOM killer ended a run. */
  oomKilled(service: string, id: string): void {
    this.oomKills.inc({ instance: id, service });
  }

  /** Supervisor hook: an instance became ready `ms` after its start. */
  woke(service: string, id: string, ms: number): void {
    this.wakeDuration.observe({ instance: id, process: service }, ms / 1000);
  }

  /** Supervisor hook: an instance of `service` was stopped to make room under max_awake. */
  evicted(service: string): void {
    this.evictions.inc({ process: service });
  }
}
