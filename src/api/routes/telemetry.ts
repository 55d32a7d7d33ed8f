/**
 * Public routes: `/health` and `/metrics`.
 * @module
 */
import type { MetricsRegistry } from "../../metrics/registry.ts";
import { ValueFamily } from "../../metrics/registry.ts";
import { renderPrometheus } from "../../metrics/prometheus_text.ts";
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
