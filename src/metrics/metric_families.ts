/**
 * Metric families kept in memory: counters and gauges (`ValueFamily`), proxied requests by status
 * class (`RequestFamily`) and histograms (`HistogramFamily`), keyed by label sets, with their
 * snapshots for the text renderer. Series that name an instance carry the labels `process` and
 * `instance`, by which `forget` drops them.
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
