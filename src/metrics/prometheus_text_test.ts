import { equal, ok } from "node:assert/strict";
import { renderPrometheus } from "./prometheus_text.ts";
import { type FamilySnapshot, HistogramFamily, ValueFamily } from "./metric_families.ts";
import { MetricsRegistry } from "./registry.ts";

Deno.test("renderPrometheus() writes HELP and TYPE before each family's samples", () => {
  const requests = new ValueFamily("tenement_requests_total", "Total requests", "counter");
  requests.inc({ process: "notes", instance: "alice" });
  requests.inc({ process: "notes", instance: "alice" }, 2);
  requests.inc({ process: "notes", instance: "bob" });
  const running = new ValueFamily("tenement_instances_running", "Running instances", "gauge");
  running.set({}, 4);
  equal(
    renderPrometheus([requests.snapshot(), running.snapshot()]),
    [
      "# HELP tenement_requests_total Total requests",
      "# TYPE tenement_requests_total counter",
      'tenement_requests_total{instance="alice",process="notes"} 3',
      'tenement_requests_total{instance="bob",process="notes"} 1',
      "",
      "# HELP tenement_instances_running Running instances",
      "# TYPE tenement_instances_running gauge",
      "tenement_instances_running 4",
      "",
    ].join("\n"),
  );
});

Deno.test("renderPrometheus() of nothing is empty, and of an empty family just its header", () => {
  equal(renderPrometheus([]), "");
  equal(
    renderPrometheus([new ValueFamily("x_total", "X", "counter").snapshot()]),
    "# HELP x_total X\n# TYPE x_total counter\n",
  );
});

Deno.test("renderPrometheus() escapes backslash, double quote and newline in label values", () => {
  const family = new ValueFamily("x_total", "X", "counter");
  family.inc({ id: 'a"b\\c\nd' });
  family.inc({ id: "\\n" });
  const lines = renderPrometheus([family.snapshot()]).split("\n");
  equal(lines[2], 'x_total{id="a\\"b\\\\c\\nd"} 1');
  equal(lines[3], 'x_total{id="\\\\n"} 1');
});

Deno.test("renderPrometheus() writes histograms as cumulative buckets, +Inf, _sum and _count", () => {
  const histogram = new HistogramFamily("tenement_wake_duration_ms", "Wake time", [1, 5, 10]);
  for (const ms of [0.5, 3, 5, 7, 2000]) histogram.observe({ process: "notes" }, ms);
  equal(
    renderPrometheus([histogram.snapshot()]),
    [
      "# HELP tenement_wake_duration_ms Wake time",
      "# TYPE tenement_wake_duration_ms histogram",
      'tenement_wake_duration_ms_bucket{process="notes",le="1"} 1',
      'tenement_wake_duration_ms_bucket{process="notes",le="5"} 3',
      'tenement_wake_duration_ms_bucket{process="notes",le="10"} 4',
      'tenement_wake_duration_ms_bucket{process="notes",le="+Inf"} 5',
      'tenement_wake_duration_ms_sum{process="notes"} 2015.5',
      'tenement_wake_duration_ms_count{process="notes"} 5',
      "",
    ].join("\n"),
  );
});

Deno.test("renderPrometheus() bucket counts never decrease and +Inf equals _count", () => {
  const histogram = new HistogramFamily("h", "H", [0.005, 0.1, 2.5, 100]);
  for (let i = 0; i < 500; i++) histogram.observe({}, (i * 7919) % 250 / 2);
  const lines = renderPrometheus([histogram.snapshot()]).trimEnd().split("\n");
  const buckets = lines.filter((l) => l.startsWith("h_bucket")).map((l) => Number(l.split(" ")[1]));
  ok(buckets.every((n, i) => i === 0 || n >= buckets[i - 1]!), buckets.join(","));
  equal(buckets.at(-1), 500);
  ok(lines.includes("h_count 500"));
  ok(lines.includes('h_bucket{le="0.005"} ' + buckets[0]), lines.join("\n"));
  ok(lines.includes('h_bucket{le="2.5"} ' + buckets[2]), lines.join("\n"));
});

Deno.test("renderPrometheus() writes special values the way Prometheus parses them", () => {
  const snapshot: FamilySnapshot = {
    name: "g",
    help: "G",
    type: "gauge",
    series: [
      { labels: { v: "pos" }, value: Infinity },
      { labels: { v: "neg" }, value: -Infinity },
      { labels: { v: "nan" }, value: NaN },
      { labels: { v: "float" }, value: 0.1 + 0.2 },
      { labels: { v: "int" }, value: -3 },
    ],
  };
  const lines = renderPrometheus([snapshot]).trimEnd().split("\n").slice(2);
  equal(
    lines.join("\n"),
    [
      'g{v="pos"} +Inf',
      'g{v="neg"} -Inf',
      'g{v="nan"} NaN',
      'g{v="float"} 0.3',
      'g{v="int"} -3',
    ].join("\n"),
  );
});

Deno.test("renderPrometheus() renders every family of the real registry with tenement_ names and unit suffixes", () => {
  const registry = new MetricsRegistry();
  registry.restarted("notes", "alice");
  registry.woke("notes", "alice", {
    totalMs: 42,
    phasesMs: { queued: 1, spawned: 10, listening: 30, healthy: 1 },
  });
  const families = registry.snapshot();
  ok(families.length >= 19, `only ${families.length} families`);
  for (const snapshot of families) {
    ok(/^tenement_[a-z0-9_]+$/.test(snapshot.name), snapshot.name);
    if (snapshot.type === "counter") ok(snapshot.name.endsWith("_total"), snapshot.name);
    else ok(!snapshot.name.endsWith("_total"), snapshot.name);
    if (snapshot.type === "histogram") ok(/_(seconds|bytes)$/.test(snapshot.name), snapshot.name);
  }
  const text = renderPrometheus(families);
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# ")) continue;
    ok(/^tenement_[a-z0-9_]+(\{[^}]*\})? \S+$/.test(line), line);
  }
  const restarts = registry.restarts.name;
  ok(text.includes(`${restarts}{instance="alice",process="notes"} 1\n`), text);
  const wake = registry.wakeDuration.name;
  ok(text.includes(`${wake}_bucket{instance="alice",process="notes",le="+Inf"} 1\n`), text);
  ok(text.includes(`${wake}_count{instance="alice",process="notes"} 1\n`), text);
});
