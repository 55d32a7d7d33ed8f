/**
 * `/health` (public) and `/api/telemetry`.
 * @module
 */
import type { FamilySnapshot, SeriesSnapshot } from "../../metrics/metric_families.ts";
import type { MetricsRegistry } from "../../metrics/registry.ts";
import { jsonResponse } from "../http_error.ts";
import type { MeasuredView } from "../measured_view.ts";

/** `GET /health`. */
export function healthResponse(): Response {
  return jsonResponse({ status: "ok" });
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
 * thousand instances cost one pass.
 */
function wakesByInstance(family: FamilySnapshot): Map<string, SeriesSnapshot> {
  const byKey = new Map<string, SeriesSnapshot>();
  for (const series of family.series) {
    const { instance, process } = series.labels;
    if (instance !== undefined && process !== undefined) {
      byKey.set(`${process}\u0000${instance}`, series);
    }
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
