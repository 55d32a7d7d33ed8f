/**
 * Public routes: `/health` and `/metrics`.
 * @module
 */
import type { MetricsRegistry } from "../../metrics/registry.ts";
import { ValueFamily } from "../../metrics/registry.ts";
import { renderPrometheus } from "../../metrics/prometheus_text.ts";
import type { InstanceSnapshot } from "../../supervisor/instance_entry.ts";
import type { Supervisor } from "../../supervisor/supervisor.ts";
import { INSTANCE_STATUSES } from "../../core/lifecycle.ts";
import { jsonResponse } from "../http_error.ts";

/** `GET /health`. */
export function healthResponse(): Response {
  return jsonResponse({ status: "ok" });
}

/** `GET /metrics`: Prometheus text. */
export function metricsResponse(metrics: MetricsRegistry, supervisor: Supervisor): Response {
  const all = supervisor.list({ all: true });
  const up = new ValueFamily("tenement_instances_up", "Instances with a running process", "gauge");
  up.set({}, all.filter((s) => s.pid !== undefined).length);
  const byStatus = new ValueFamily(
    "tenement_instances",
    "Known instances by lifecycle status",
    "gauge",
  );
  for (const status of INSTANCE_STATUSES) {
    byStatus.set({ status }, all.filter((s) => s.status === status).length);
  }
  const healthy = new ValueFamily(
    "tenement_instance_healthy",
    "1 when the instance's last health check passed",
    "gauge",
  );
  for (const s of all) {
    if (s.pid !== undefined) {
      healthy.set({ instance: s.id, process: s.service }, s.health === "healthy" ? 1 : 0);
    }
  }
  const text = renderPrometheus([
    metrics.requests.snapshot(),
    metrics.requestDuration.snapshot(),
    up.snapshot(),
    metrics.restarts.snapshot(),
    byStatus.snapshot(),
    healthy.snapshot(),
    metrics.wakeDuration.snapshot(),
  ]);
  return new Response(text, {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
}

/** `GET /api/telemetry`: the dashboard summary (needs a token; tenants see their own). */
export function telemetryResponse(
  metrics: MetricsRegistry,
  instances: readonly InstanceSnapshot[],
  nowMs: number,
): Response {
  const rows = instances.map((s) => {
    const labels = { instance: s.id, process: s.service };
    const duration = metrics.requestDuration.summary(labels);
    const isUp = s.pid !== undefined && s.startedAtMs !== undefined;
    return {
      id: s.key,
      process: s.service,
      instance: s.id,
      status: s.status,
      health: s.health,
      uptime_secs: isUp ? Math.floor((nowMs - s.startedAtMs!) / 1000) : 0,
      idle_secs: Math.floor((nowMs - s.lastActivityMs) / 1000),
      restarts: s.restarts,
      weight: s.weight,
      requests_total: metrics.requests.get(labels),
      request_duration_avg_ms: duration.count === 0 ? 0 : duration.sum / duration.count,
      request_duration_p99_ms: duration.p99,
      storage_used_bytes: 0,
      storage_quota_bytes: null,
    };
  });
  return jsonResponse({
    summary: {
      total_instances: rows.length,
      healthy_instances: rows.filter((r) => r.health === "healthy").length,
      total_requests: rows.reduce((sum, r) => sum + r.requests_total, 0),
    },
    instances: rows,
  });
}
