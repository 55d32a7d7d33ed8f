/**
 * `/health` (public) and `/api/telemetry`.
 * @module
 */
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
  const rows = instances.map((view) => {
    const labels = { instance: view.id, process: view.service };
    const duration = metrics.requestDuration.summary(labels);
    const startedAtMs = view.pid === undefined ? undefined : view.startedAtMs;
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
