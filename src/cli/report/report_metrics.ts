/**
 * The few `/metrics` facts `ten report` shows: OOM kills and wakes (count and p95 time) per
 * instance, read from the Prometheus text. Counted since the daemon started (metrics are kept in
 * memory), not over the report's window. Pure: parses text, does no I/O.
 * @module
 */

/** What `/metrics` tells about one instance (`service:id`). */
export interface InstanceMetrics {
  readonly oomKills: number;
  readonly wakes: number;
  /** Upper bound of the bucket holding the 95th percentile wake, in ms; undefined without wakes. */
  readonly wakeP95Ms: number | undefined;
}

/** One sample line: name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? "").matchAll(LABEL)) {
      labels[name!] = value!.replace(/\\(.)/g, (_all, ch: string) => ch === "n" ? "\n" : ch);
    }
    const value = match[3] === "+Inf" ? Infinity : Number(match[3]);
    if (!Number.isNaN(value)) samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/**
 * OOM kills and wakes per instance (`service:id`) from `/metrics` text: `tenement_oom_kills_total`
 * and the `tenement_wake_duration_seconds` histogram (a request's wait for the instance it
 * woke). Series without an instance label (`metrics_instance_label = false`) are not per
 * instance and are left out.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const text = [
 *   'tenement_oom_kills_total{instance="a",process="web"} 2',
 *   'tenement_wake_duration_seconds_bucket{instance="a",process="web",le="0.1"} 9',
 *   'tenement_wake_duration_seconds_bucket{instance="a",process="web",le="0.5"} 10',
 *   'tenement_wake_duration_seconds_bucket{instance="a",process="web",le="+Inf"} 10',
 *   'tenement_wake_duration_seconds_count{instance="a",process="web"} 10',
 * ].join("\n");
 * const facts = instanceMetricsOf(text).get("web:a");
 * equal(facts?.oomKills, 2);
 * equal(facts?.wakes, 10);
 * equal(facts?.wakeP95Ms, 500);
 * ```
 */
export function instanceMetricsOf(text: string): Map<string, InstanceMetrics> {
  const oom = new Map<string, number>();
  const wakes = new Map<string, number>();
  const buckets = new Map<string, Array<readonly [number, number]>>();
  for (const sample of parseSamples(text)) {
    const id = sample.labels["instance"];
    // Daemons of 0.3 labelled OOM kills with `service`.
    const service = sample.labels["process"] ?? sample.labels["service"];
    if (id === undefined || service === undefined) continue;
    const key = `${service}:${id}`;
    if (sample.name === "tenement_oom_kills_total") oom.set(key, sample.value);
    if (sample.name === "tenement_wake_duration_seconds_count") wakes.set(key, sample.value);
    if (sample.name === "tenement_wake_duration_seconds_bucket") {
      const le = sample.labels["le"] === "+Inf" ? Infinity : Number(sample.labels["le"]);
      const list = buckets.get(key) ?? [];
      list.push([le, sample.value]);
      buckets.set(key, list);
    }
  }
  const result = new Map<string, InstanceMetrics>();
  for (const key of new Set([...oom.keys(), ...wakes.keys()])) {
    const count = wakes.get(key) ?? 0;
    result.set(key, {
      oomKills: oom.get(key) ?? 0,
      wakes: count,
      wakeP95Ms: count === 0 ? undefined : p95Ms(buckets.get(key) ?? [], count),
    });
  }
  return result;
}

/** The upper bound (ms) of the first bucket that holds 95% of `count`; the top finite bound past it. */
function p95Ms(buckets: ReadonlyArray<readonly [number, number]>, count: number): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const rank = Math.ceil(count * 0.95);
  const finite = sorted.filter(([le]) => Number.isFinite(le));
  const hit = finite.find(([, cumulative]) => cumulative >= rank);
  const bound = hit?.[0] ?? finite[finite.length - 1]?.[0] ?? 0;
  return Math.round(bound * 1000);
}
