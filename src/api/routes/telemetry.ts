/**
 * `/health` (public), `/metrics` (a token, or its own listener: `metrics_bind`) and
 * `/api/telemetry`.
 * @module
 */
import type {
  FamilySnapshot,
  Labels,
  MetricsRegistry,
  SeriesSnapshot,
} from "../../metrics/registry.ts";
import { ValueFamily } from "../../metrics/registry.ts";
import { renderPrometheus } from "../../metrics/prometheus_text.ts";
import { INSTANCE_STATUSES } from "../../core/lifecycle.ts";
import type { CertificateSource, InstanceControl } from "../api_ports.ts";
import { jsonResponse } from "../http_error.ts";
import type { MeasuredView } from "../measured_view.ts";

/** `GET /health`. */
export function healthResponse(): Response {
  return jsonResponse({ status: "ok" });
}

/** Options of {@linkcode metricsResponse}. */
export interface MetricsOptions {
  /**
   * Label series with the instance id (`instance`, `id`); false sums each family per service
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
  const all = instances.list({ all: true });
  const up = new ValueFamily("tenement_instances_up", "Instances with a running process", "gauge");
  up.set({}, all.filter((view) => view.pid !== undefined).length);
  const byStatus = new ValueFamily(
    "tenement_instances",
    "Known instances by lifecycle status",
    "gauge",
  );
  for (const status of INSTANCE_STATUSES) {
    byStatus.set({ status }, all.filter((view) => view.status === status).length);
  }
  const healthy = new ValueFamily(
    "tenement_instance_healthy",
    "1 when the instance's last health check passed",
    "gauge",
  );
  for (const view of all) {
    if (view.pid !== undefined) {
      healthy.set({ instance: view.id, process: view.service }, view.health === "healthy" ? 1 : 0);
    }
  }
  const expiry = new ValueFamily(
    "tenement_tls_certificate_expiry_timestamp_seconds",
    "When each built-in TLS certificate expires (Unix time); alert well before it passes",
    "gauge",
  );
  for (const cert of certificates?.status() ?? []) {
    if (cert.notAfter !== undefined) {
      expiry.set({ name: cert.names[0] ?? "" }, Math.floor(Date.parse(cert.notAfter) / 1000));
    }
  }
  const families = [
    metrics.requests.snapshot(),
    metrics.requestDuration.snapshot(),
    up.snapshot(),
    metrics.restarts.snapshot(),
    metrics.oomKills.snapshot(),
    byStatus.snapshot(),
    healthy.snapshot(),
    metrics.wakeDuration.snapshot(),
    metrics.evictions.snapshot(),
    metrics.logLines.snapshot(),
    metrics.logLinesDropped.snapshot(),
    ...(certificates === undefined ? [] : [expiry.snapshot()]),
  ];
  const text = renderPrometheus(
    options.instanceLabel === false ? families.map(withoutInstanceLabel) : families,
  );
  return new Response(text, {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
}

/** Labels that name an instance. */
const INSTANCE_LABELS = new Set(["instance", "id"]);

/**
 * A family with the instance labels dropped: series that then share their labels are summed
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
      if (!INSTANCE_LABELS.has(name)) labels[name] = value;
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

/** `GET /api/telemetry`: the dashboard summary (needs a token; tenants see their own). */
export function telemetryResponse(
  metrics: MetricsRegistry,
  instances: readonly MeasuredView[],
  nowMs: number,
): Response {
  const wakes = wakesByInstance(metrics.wakeDuration.snapshot());
  const rows = instances.map((view) => {
    const labels = { instance: view.id, process: view.service };
    const duration = metrics.requestDuration.summary(labels);
    const startedAtMs = view.pid === undefined ? undefined : view.startedAtMs;
    const wake = wakes.get(`${view.service}\u0000${view.id}`);
    return {
      id: view.key,
      process: view.service,
      instance: view.id,
      status: view.status,
      health: view.health,
      uptime_secs: startedAtMs === undefined ? 0 : Math.floor((nowMs - startedAtMs) / 1000),
      idle_secs: Math.floor((nowMs - view.lastActivityMs) / 1000),
      restarts: view.restarts,
      weight: view.weight,
      requests_total: metrics.requests.get(labels),
      request_duration_avg_ms: duration.count === 0 ? 0 : duration.sum / duration.count,
      request_duration_p99_ms: duration.p99,
      storage_used_bytes: view.storageUsedBytes,
      storage_quota_bytes: view.storageQuotaBytes,
      rss_bytes: view.rssBytes ?? null,
      cpu_seconds: view.cpuSeconds ?? null,
      wakes: wake?.count ?? 0,
      wake_avg_ms: wake?.count ? ((wake.sum ?? 0) / wake.count) * 1000 : null,
      wake_p95_ms: wake === undefined ? null : upperQuantileMs(wake, 0.95),
    };
  });
  return jsonResponse({
    summary: {
      total_instances: rows.length,
      healthy_instances: rows.filter((row) => row.health === "healthy").length,
      total_requests: rows.reduce((sum, row) => sum + row.requests_total, 0),
    },
    instances: rows,
  });
}

/**
 * The wake histogram series of each instance, keyed `service\0id`, read from one snapshot so a
 * thousand instances cost one pass. Where an instance has several series (one per wake phase),
 * the one with the largest sum is the whole wake.
 */
function wakesByInstance(family: FamilySnapshot): Map<string, SeriesSnapshot> {
  const byKey = new Map<string, SeriesSnapshot>();
  for (const series of family.series) {
    const { instance, process } = series.labels;
    if (instance === undefined || process === undefined) continue;
    const key = `${process}\u0000${instance}`;
    const before = byKey.get(key);
    if (before === undefined || (series.sum ?? 0) > (before.sum ?? 0)) byKey.set(key, series);
  }
  return byKey;
}

/** An upper bound of quantile `q` of a histogram in seconds, in ms; null without observations. */
function upperQuantileMs(series: SeriesSnapshot, q: number): number | null {
  const count = series.count ?? 0;
  const buckets = series.buckets ?? [];
  if (count === 0 || buckets.length === 0) return null;
  const rank = Math.ceil(count * q);
  const bucket = buckets.find(([, cumulative]) => cumulative >= rank);
  return (bucket ?? buckets[buckets.length - 1]!)[0] * 1000;
}
