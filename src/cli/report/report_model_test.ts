import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { InstanceJson, LogEntryJson } from "../../api/wire.ts";
import {
  buildReport,
  downReport,
  ERROR_LINE_CHARS,
  isThresholdCrossed,
  type ReportInput,
  topLines,
} from "./report_model.ts";
import { instanceMetricsOf } from "./report_metrics.ts";
import { renderReport, shortSummary } from "./report_render.ts";

const NOW = Date.UTC(2026, 10, 29, 12);
const HOUR = 3_600_000;

function row(id: string, fields: Partial<InstanceJson> = {}): InstanceJson {
  const [service, instance] = id.split(":") as [string, string];
  return {
    id,
    socket: "127.0.0.1:30001",
    uptime_secs: 60,
    idle_secs: 1,
    restarts: 0,
    health: "healthy",
    storage_used_bytes: 2048,
    storage_quota_bytes: null,
    weight: 100,
    service,
    instance,
    status: "running",
    pid: 4242,
    port: 30001,
    reason: null,
    retry_in_secs: null,
    disabled: false,
    ...fields,
  };
}

let nextLogId = 1;

function stderr(id: string, message: string, agoMs: number): LogEntryJson {
  const [process, instanceId] = id.split(":") as [string, string];
  return {
    id: nextLogId++,
    timestamp: NOW - agoMs,
    level: "stderr",
    process,
    instance_id: instanceId,
    message,
  };
}

function input(fields: Partial<ReportInput> = {}): ReportInput {
  return {
    server: "http://box:8080",
    nowMs: NOW,
    windowMs: 24 * HOUR,
    instances: [],
    stderrLines: [],
    metrics: new Map(),
    certs: { enabled: false, domain: null, directory: null, certificates: [] },
    ...fields,
  };
}

Deno.test("buildReport() counts the window's stderr lines per instance, most repeated first", () => {
  const report = buildReport(input({
    instances: [row("web:b"), row("web:a")],
    stderrLines: [
      stderr("web:a", "old", 25 * HOUR),
      stderr("web:a", "db timeout", HOUR),
      stderr("web:a", "boom", HOUR),
      stderr("web:a", "db timeout", 2 * HOUR),
    ],
  }));
  deepEqual(report.instances.map((r) => r.id), ["web:a", "web:b"]);
  const a = report.instances[0]!;
  equal(a.error_lines, 3, "the line before the window is left out");
  deepEqual(a.top_errors, [{ message: "db timeout", count: 2 }, { message: "boom", count: 1 }]);
  equal(report.summary.error_lines, 3);
  equal(report.verdict, "ok");
});

Deno.test("topLines() keeps the top few and cuts long lines", () => {
  const long = "x".repeat(ERROR_LINE_CHARS + 50);
  const top = topLines([long, long, "a", "b", "c"], 2);
  equal(top.length, 2);
  equal(top[0]!.count, 2);
  equal(top[0]!.message.length, ERROR_LINE_CHARS + 1);
  equal(top[1]!.message, "a");
});

Deno.test("buildReport() verdicts: failed beats unhealthy beats ok", async (t) => {
  const cases: Array<[string, InstanceJson[], string]> = [
    ["all healthy", [row("a:1")], "ok"],
    ["degraded is not unhealthy", [row("a:1", { health: "degraded" })], "ok"],
    ["unhealthy", [row("a:1", { health: "unhealthy" }), row("a:2")], "unhealthy"],
    [
      "failed",
      [row("a:1", { health: "unhealthy" }), row("a:2", { status: "failed", health: "failed" })],
      "failed",
    ],
  ];
  for (const [name, instances, verdict] of cases) {
    await t.step(name, () => equal(buildReport(input({ instances })).verdict, verdict));
  }
});

Deno.test("isThresholdCrossed() per --fail-on", () => {
  const unhealthy = buildReport(input({ instances: [row("a:1", { health: "unhealthy" })] }));
  const failed = buildReport(input({ instances: [row("a:1", { status: "failed" })] }));
  const fine = buildReport(input({ instances: [row("a:1")] }));
  equal(isThresholdCrossed(unhealthy, "unhealthy"), true);
  equal(isThresholdCrossed(unhealthy, "failed"), false);
  equal(isThresholdCrossed(failed, "failed"), true);
  equal(isThresholdCrossed(failed, "never"), false);
  equal(isThresholdCrossed(fine, "unhealthy"), false);
  equal(isThresholdCrossed(downReport("http://x", "refused", NOW), "never"), true);
});

Deno.test("buildReport() takes OOM kills and wakes from /metrics, and flags an OOM exit", () => {
  const metrics = instanceMetricsOf([
    "# TYPE tenement_oom_kills_total counter",
    'tenement_oom_kills_total{instance="a",service="web"} 3',
    'tenement_wake_duration_seconds_bucket{instance="a",process="web",le="0.05"} 1',
    'tenement_wake_duration_seconds_bucket{instance="a",process="web",le="0.25"} 20',
    'tenement_wake_duration_seconds_bucket{instance="a",process="web",le="+Inf"} 20',
    'tenement_wake_duration_seconds_count{instance="a",process="web"} 20',
  ].join("\n"));
  const report = buildReport(input({
    instances: [
      row("web:a", {
        status: "backoff",
        health: "unknown",
        reason: "out of memory (memory_limit_mb = 64)",
      }),
      row("web:b"),
    ],
    metrics,
  }));
  const [a, b] = report.instances;
  equal(a!.oom_kills, 3);
  equal(a!.last_exit_oom, true);
  equal(a!.wakes, 20);
  equal(a!.wake_p95_ms, 250);
  equal(b!.oom_kills, 0);
  equal(b!.wake_p95_ms, null);
  equal(report.summary.oom_kills, 3);
  const withoutMetrics = buildReport(input({ instances: [row("web:a")], metrics: undefined }));
  equal(withoutMetrics.instances[0]!.oom_kills, null);
  equal(withoutMetrics.summary.oom_kills, null);
});

Deno.test("buildReport() lists certificate expiries only when TLS is on", () => {
  const off = buildReport(input());
  equal(off.certificates, null);
  const on = buildReport(input({
    certs: {
      enabled: true,
      domain: "example.com",
      directory: "https://acme",
      certificates: [{
        names: ["example.com", "*.example.com"],
        challenge: "http-01",
        issuer: "R3",
        not_before: null,
        not_after: new Date(NOW + 10 * 86_400_000 + HOUR).toISOString(),
        next_attempt: null,
        last_error: null,
        last_error_at: null,
      }],
    },
  }));
  equal(on.certificates?.[0]?.days_left, 10);
  match(renderReport(on, "text"), /example\.com, \*\.example\.com: expires .* \(10 days\)/);
});

Deno.test("renderReport() says the daemon is down in every format", () => {
  const down = downReport("http://box:8080", "Connection refused", NOW);
  const message = "tenement is not answering at http://box:8080: Connection refused";
  for (const format of ["text", "markdown", "json"] as const) {
    ok(renderReport(down, format).includes(message), format);
  }
  equal(JSON.parse(renderReport(down, "json")).ok, false);
  match(shortSummary(down), /DOWN/);
});

Deno.test("renderReport() text and Markdown show each instance's state and top errors", () => {
  const report = buildReport(input({
    instances: [
      row("web:a", { status: "failed", health: "failed", reason: "exited with code 3" }),
      row("web:b", { restarts: 2, storage_quota_bytes: 1_048_576 }),
    ],
    stderrLines: [stderr("web:a", "cannot open | database", HOUR)],
  }));
  const text = renderReport(report, "text");
  match(text, /tenement FAILED at http:\/\/box:8080: 2 instance\(s\)/);
  match(text, /^web:a: failed \(exited with code 3\)$/m);
  match(text, /^ {4}1× cannot open \| database$/m);
  match(text, /^web:b: running, healthy$/m);
  match(text, /restarts 2, .*disk 2\.0 KiB of 1\.0 MiB/);
  const markdown = renderReport(report, "markdown");
  match(markdown, /^\| web:a \| failed \(exited with code 3\) \| 0 \|/m);
  match(markdown, /^- 1× `cannot open \| database`$/m);
  const json = JSON.parse(renderReport(report, "json"));
  equal(json.verdict, "failed");
  equal(json.instances[0].top_errors[0].message, "cannot open | database");
});
