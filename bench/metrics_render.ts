/**
 * What one `/metrics` scrape costs the daemon's event loop as tenants grow: a registry with N
 * instances that each served requests, woke once, restarted, went idle, wrote logs and were
 * sampled, rendered to Prometheus text (the work a scrape does on the main thread).
 *
 *     deno run -A bench/metrics_render.ts [--instances 100,1000,5000] [--renders 10]
 * @module
 */
import { print } from "../testkit/mod.ts";
import { table } from "./lib.ts";
import { MetricsRegistry } from "../src/metrics/registry.ts";
import { renderPrometheus } from "../src/metrics/prometheus_text.ts";

function option(name: string, fallback: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  return index >= 0 ? Deno.args[index + 1] ?? fallback : fallback;
}

/** A registry as a daemon with `count` busy tenants would hold it. */
function filled(count: number): MetricsRegistry {
  const metrics = new MetricsRegistry();
  const usage = [];
  for (let i = 0; i < count; i++) {
    const instance = `t${i}`;
    const labels = { instance, process: "notes" };
    const requests = metrics.requests.series(labels);
    for (const status of [200, 200, 404, 503]) requests.count(status);
    for (const seconds of [0.002, 0.02, 0.2]) metrics.requestDuration.observe(labels, seconds);
    metrics.woke("notes", instance, {
      totalMs: 150,
      phasesMs: { queued: 1, spawned: 5, listening: 130, healthy: 14 },
    });
    metrics.restarted("notes", instance);
    metrics.idleStopped("notes", instance);
    metrics.written("notes", instance, 100);
    usage.push({ process: "notes", instance, rssBytes: 20 << 20, cpuSeconds: 1.5 });
  }
  metrics.sampled(usage);
  return metrics;
}

const renders = Number(option("renders", "10"));
const rows: string[][] = [];
for (const count of option("instances", "100,1000,5000").split(",").map(Number)) {
  const metrics = filled(count);
  renderPrometheus(metrics.snapshot());
  let bytes = 0;
  let worstMs = 0;
  const start = performance.now();
  for (let i = 0; i < renders; i++) {
    const t0 = performance.now();
    bytes = renderPrometheus(metrics.snapshot()).length;
    worstMs = Math.max(worstMs, performance.now() - t0);
  }
  const meanMs = (performance.now() - start) / renders;
  rows.push([
    String(count),
    meanMs.toFixed(1),
    worstMs.toFixed(1),
    (bytes / 1e6).toFixed(2),
  ]);
}
print(table(["instances", "render ms (mean)", "render ms (worst)", "text MB"], rows));
