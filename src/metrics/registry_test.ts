import { deepEqual, equal, ok } from "node:assert/strict";
import { HistogramFamily, RequestFamily } from "./metric_families.ts";
import { MetricsRegistry } from "./registry.ts";
import { renderPrometheus } from "./prometheus_text.ts";

const ALICE = { instance: "alice", process: "notes" };

Deno.test("RequestFamily counts by status class and sums the classes for one instance", () => {
  const requests = new RequestFamily("tenement_requests_total", "Requests");
  const counts = requests.series(ALICE);
  for (const status of [200, 204, 301, 404, 500, 503, 101]) counts.count(status);
  equal(requests.series({ process: "notes", instance: "alice" }), counts, "the same series");
  equal(requests.get(ALICE), 7);
  equal(requests.get({ instance: "bob", process: "notes" }), 0);
  deepEqual(
    requests.snapshot().series.map((s) => [s.labels["code"], s.value]),
    [["1xx", 1], ["2xx", 2], ["3xx", 1], ["4xx", 1], ["5xx", 2]],
  );
});

Deno.test("RequestCounts counts a status outside 100–599 as 5xx", () => {
  const counts = new RequestFamily("r_total", "R").series(ALICE);
  counts.count(0);
  counts.count(999);
  equal(counts.byClass[5], 2);
});

Deno.test("HistogramFamily.summary() reports count, sum and p99 bound in ms of seconds observed", () => {
  const histogram = new HistogramFamily("h_seconds", "H", [0.01, 0.1, 1]);
  for (let i = 0; i < 99; i++) histogram.observe(ALICE, 0.005);
  histogram.observe(ALICE, 0.5);
  const summary = histogram.summary(ALICE);
  equal(summary.count, 100);
  ok(Math.abs(summary.sum - (99 * 5 + 500)) < 1e-9, String(summary.sum));
  equal(summary.p99, 10);
  deepEqual(histogram.summary({ instance: "x", process: "y" }), { count: 0, sum: 0, p99: 0 });
});

Deno.test("MetricsRegistry.woke() counts the wake and observes its total and each phase in seconds", () => {
  const registry = new MetricsRegistry();
  registry.woke("notes", "alice", {
    totalMs: 400,
    phasesMs: { queued: 3, spawned: 40, listening: 300, healthy: 57 },
  });
  equal(registry.wakes.get(ALICE), 1);
  equal(registry.wakeDuration.summary(ALICE).sum, 400);
  const phases = registry.wakePhaseDuration.snapshot().series;
  deepEqual(
    phases.map((s) => [s.labels["phase"], s.count, Math.round((s.sum ?? 0) * 1000)]),
    [["queued", 1, 3], ["spawned", 1, 40], ["listening", 1, 300], ["healthy", 1, 57]],
  );
});

Deno.test("MetricsRegistry.forget() drops the instance's series from every family, and only its", () => {
  const registry = new MetricsRegistry();
  const bob = { instance: "bob", process: "notes" };
  for (const who of [ALICE, bob]) {
    registry.requests.series(who).count(200);
    registry.requestDuration.observe(who, 0.01);
    registry.woke(who.process, who.instance, {
      totalMs: 10,
      phasesMs: { queued: 1, spawned: 2, listening: 3, healthy: 4 },
    });
    registry.restarted(who.process, who.instance);
    registry.idleStopped(who.process, who.instance);
    registry.oomKilled(who.process, who.instance);
    registry.written(who.process, who.instance, 3);
    registry.dropped(who.process, who.instance, 1);
  }
  registry.evicted("notes");
  registry.sampled([
    { process: "notes", instance: "alice", rssBytes: 1, cpuSeconds: 1 },
    { process: "notes", instance: "bob", rssBytes: 1, cpuSeconds: 1 },
  ]);
  registry.forgotten("notes", "alice");
  const text = renderPrometheus(registry.snapshot());
  ok(!text.includes('instance="alice"'), text);
  for (const family of registry.families) {
    if (family.name === "tenement_evictions_total") continue;
    if (family.snapshot().series.length === 0) continue;
    ok(text.includes(`instance="bob"`), family.name);
  }
  ok(text.includes('tenement_evictions_total{process="notes"} 1'), text);
  ok(text.includes('tenement_idle_stops_total{instance="bob",process="notes"} 1'), text);
});

Deno.test("MetricsRegistry.sampled() replaces the resource series: an instance gone to sleep loses them", () => {
  const registry = new MetricsRegistry();
  registry.sampled([{ process: "notes", instance: "alice", rssBytes: 4096, cpuSeconds: 0.5 }]);
  equal(registry.memory.get(ALICE), 4096);
  equal(registry.cpu.get(ALICE), 0.5);
  registry.sampled([]);
  equal(registry.memory.snapshot().series.length, 0);
  equal(registry.cpu.snapshot().series.length, 0);
});

Deno.test("MetricsRegistry.snapshot() runs the collectors first and lists certificates only with TLS", () => {
  const registry = new MetricsRegistry();
  let rss = 0;
  registry.onCollect(() => registry.daemonMemory.set({}, ++rss));
  equal(
    registry.snapshot().find((f) => f.name === registry.daemonMemory.name)?.series[0]?.value,
    1,
  );
  equal(
    registry.snapshot().find((f) => f.name === registry.daemonMemory.name)?.series[0]?.value,
    2,
  );
  ok(!registry.snapshot().some((f) => f.name === registry.certificateExpiry.name));
  registry.hasCertificates = true;
  ok(registry.snapshot().some((f) => f.name === registry.certificateExpiry.name));
});
