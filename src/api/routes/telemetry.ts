/**
 * Public routes: `/health` and `/metrics`.
 * @module
 */
import type { MetricsRegistry } from "../../metrics/registry.ts";
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

/** `GET /metrics`: Prometheus text. */
export function metricsResponse(
  metrics: MetricsRegistry,
  instances: InstanceControl,
  certificates?: CertificateSource,
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
  const text = renderPrometheus([
    metrics.requests.snapshot(),
    metrics.requestDuration.snapshot(),
    up.snapshot(),
    metrics.restarts.snapshot(),
    byStatus.snapshot(),
    healthy.snapshot(),
    metrics.wakeDuration.snapshot(),
    ...(certificates === undefined ? [] : [expiry.snapshot()]),
  ]);
  return new Response(text, {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
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
