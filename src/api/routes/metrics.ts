/**
 * `GET /metrics`: the Prometheus text of every family (a token, or its own listener:
 * `metrics_bind`), optionally without the instance label.
 * @module
 */
import type { FamilySnapshot, Labels, SeriesSnapshot } from "../../metrics/metric_families.ts";
import type { MetricsRegistry } from "../../metrics/registry.ts";
import { renderPrometheus } from "../../metrics/prometheus_text.ts";
import { INSTANCE_STATUSES } from "../../core/lifecycle.ts";
import type { CertificateSource, InstanceControl } from "../api_ports.ts";

/** Options of {@linkcode metricsResponse}. */
export interface MetricsOptions {
  /**
   * Label series with the instance id (`instance`); false sums each family per service
   * instead, so a scrape does not list the tenants. @default {true}
   */
  readonly instanceLabel?: boolean;
}

/** `GET /metrics`: Prometheus text. */
export function metricsResponse(
  metrics: MetricsRegistry,
  instances: InstanceControl,
  certificates?: CertificateSource,
  options: MetricsOptions = {},
): Response {
  fillInstanceGauges(metrics, instances);
  metrics.hasCertificates = certificates !== undefined;
  metrics.certificateExpiry.clear();
  for (const cert of certificates?.status() ?? []) {
    if (cert.notAfter !== undefined) {
      metrics.certificateExpiry.set(
        { name: cert.names[0] ?? "" },
        Math.floor(Date.parse(cert.notAfter) / 1000),
      );
    }
  }
  const families = metrics.snapshot();
  const text = renderPrometheus(
    options.instanceLabel === false ? families.map(withoutInstanceLabel) : families,
  );
  return new Response(text, {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
}

/** Instances up, by status (every status, 0 included) and healthy, from the instance table. */
function fillInstanceGauges(metrics: MetricsRegistry, instances: InstanceControl): void {
  const all = instances.list({ all: true });
  const byStatus = new Map<string, number>(INSTANCE_STATUSES.map((status) => [status, 0]));
  let up = 0;
  metrics.healthy.clear();
  for (const view of all) {
    byStatus.set(view.status, (byStatus.get(view.status) ?? 0) + 1);
    if (view.pid === undefined) continue;
    up++;
    metrics.healthy.set(
      { instance: view.id, process: view.service },
      view.health === "healthy" ? 1 : 0,
    );
  }
  metrics.instancesUp.set({}, up);
  for (const [status, count] of byStatus) metrics.instancesByStatus.set({ status }, count);
}

/**
 * A family with the `instance` label dropped: series that then share their labels are summed
 * (counters and gauges add up, histograms add bucket by bucket).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const family = withoutInstanceLabel({
 *   name: "n", help: "h", type: "counter",
 *   series: [
 *     { labels: { instance: "a", process: "p" }, value: 1 },
 *     { labels: { instance: "b", process: "p" }, value: 2 },
 *   ],
 * });
 * deepEqual(family.series, [{ labels: { process: "p" }, value: 3 }]);
 * ```
 */
export function withoutInstanceLabel(family: FamilySnapshot): FamilySnapshot {
  const merged = new Map<string, SeriesSnapshot>();
  for (const series of family.series) {
    const labels: Record<string, string> = {};
    for (const [name, value] of Object.entries(series.labels)) {
      if (name !== "instance") labels[name] = value;
    }
    const key = JSON.stringify(Object.entries(labels).sort());
    const before = merged.get(key);
    merged.set(
      key,
      before === undefined ? { ...series, labels } : sumSeries(before, series, labels),
    );
  }
  return { ...family, series: [...merged.values()] };
}

function sumSeries(a: SeriesSnapshot, b: SeriesSnapshot, labels: Labels): SeriesSnapshot {
  if (a.buckets === undefined || b.buckets === undefined) {
    return { labels, value: (a.value ?? 0) + (b.value ?? 0) };
  }
  const other = b.buckets;
  return {
    labels,
    buckets: a.buckets.map(([bound, count], i) => [bound, count + (other[i]?.[1] ?? 0)] as const),
    sum: (a.sum ?? 0) + (b.sum ?? 0),
    count: (a.count ?? 0) + (b.count ?? 0),
  };
}
