import { deepEqual, equal } from "node:assert/strict";
import { instanceMetricsOf } from "./report_metrics.ts";
import { MetricsRegistry } from "../../metrics/registry.ts";
import { renderPrometheus } from "../../metrics/prometheus_text.ts";

Deno.test("instanceMetricsOf() reads OOM kills and wakes from the daemon's own /metrics text", () => {
  const registry = new MetricsRegistry();
  registry.oomKilled("web", "a");
  registry.oomKilled("web", "a");
  for (const ms of [20, 30, 40, 3000]) {
    registry.woke("web", "a", {
      totalMs: ms,
      phasesMs: { queued: 0, spawned: 1, listening: ms - 2, healthy: 1 },
    });
  }
  registry.woke("web", "b", {
    totalMs: 60,
    phasesMs: { queued: 0, spawned: 1, listening: 58, healthy: 1 },
  });
  const facts = instanceMetricsOf(renderPrometheus(registry.snapshot()));
  deepEqual(facts.get("web:a"), { oomKills: 2, wakes: 4, wakeP95Ms: 5000 });
  deepEqual(facts.get("web:b"), { oomKills: 0, wakes: 1, wakeP95Ms: 100 });
  equal(facts.size, 2);
});

Deno.test("instanceMetricsOf() still reads the `service` label of older daemons", () => {
  const facts = instanceMetricsOf('tenement_oom_kills_total{instance="a",service="web"} 3\n');
  deepEqual(facts.get("web:a"), { oomKills: 3, wakes: 0, wakeP95Ms: undefined });
});
