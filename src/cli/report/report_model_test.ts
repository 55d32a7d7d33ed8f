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
import {
  EVENT_PREFIX,
  exitedEvent,
  failedEvent,
  outOfMemoryEvent,
  readyEvent,
  restartingEvent,
  wokeEvent,
} from "../../core/lifecycle_events.ts";
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

function event(id: string, message: string, agoMs: number): LogEntryJson {
  return { ...stderr(id, EVENT_PREFIX + message, agoMs), level: "event" };
}

function input(fields: Partial<ReportInput> = {}): ReportInput {
  return {
    server: "http://box:8080",
    nowMs: NOW,
    windowMs: 24 * HOUR,
    instances: [],
    stderrLines: [],
    events: [],
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

Deno.test("buildReport() counts restarts, failures, OOM kills and wakes in the window from lifecycle events", () => {
  const report = buildReport(input({
    instances: [
      row("web:a", {
        status: "backoff",
        health: "unknown",
        reason: "out of memory (memory_limit_mb = 64)",
        restarts: 9,
      }),
      row("web:b"),
    ],
    events: [
      event("web:a", restartingEvent(100), 25 * HOUR),
      event("web:a", exitedEvent(1, "exited with code 3"), 25 * HOUR),
      event("web:a", wokeEvent(9000, "queued 0 ms"), 25 * HOUR),
      event("web:a", exitedEvent(2, "exited with code 3"), 3 * HOUR),
      event("web:a", restartingEvent(100), 3 * HOUR),
      event("web:a", exitedEvent(3, "exited with code 0"), 2 * HOUR),
      event("web:a", exitedEvent(4, "out of memory (memory_limit_mb = 64)"), HOUR),
      event("web:a", outOfMemoryEvent(64), HOUR),
      event("web:a", restartingEvent(200), HOUR),
      ...[
        100,
        200,
        300,
        400,
        500,
        600,
        700,
        800,
        900,
        1000,
        1100,
        1200,
        1300,
        1400,
        1500,
        1600,
        1700,
        1800,
        1900,
        2000,
      ].map((ms) => event("web:a", wokeEvent(ms, "queued 0 ms"), HOUR)),
      event("web:b", readyEvent(30), HOUR),
    ],
  }));
  const [a, b] = report.instances;
  equal(a!.restarts, 2, "the restart before the window is left out");
  equal(a!.restarts_total, 9);
  equal(a!.failures, 2, "a non-zero code and an OOM kill; the clean exit is not a failure");
  equal(a!.oom_kills, 1);
  equal(a!.last_exit_oom, true);
  equal(a!.wakes, 20);
  equal(a!.wake_p95_ms, 1900);
  deepEqual([b!.restarts, b!.failures, b!.oom_kills, b!.wakes, b!.wake_p95_ms], [0, 0, 0, 0, null]);
  deepEqual(
    [report.summary.restarts, report.summary.failures, report.summary.oom_kills],
    [2, 2, 1],
  );
  match(
    renderReport(report, "text"),
    /^ {2}restarts 2 \(9 in all\), failures 2, OOM kills 1 \(last exit: out of memory\), wakes 20 \(p95 1900 ms\),/m,
  );
  match(
    renderReport(report, "markdown"),
    /^\| web:a \| backoff \(out of memory .*\) \| 2 \| 2 \| 1 \| 20 \(p95 1900 ms\) \|/m,
  );
  equal(JSON.parse(renderReport(report, "json")).instances[0].failures, 2);

  const narrow = buildReport(input({
    instances: [row("web:a")],
    windowMs: 30 * 60_000,
    events: [event("web:a", restartingEvent(100), HOUR), event("web:a", wokeEvent(5, "q"), HOUR)],
  }));
  deepEqual([narrow.instances[0]!.restarts, narrow.instances[0]!.wakes], [0, 0]);

  const unread = buildReport(input({ instances: [row("web:a")], events: undefined }));
  deepEqual([unread.instances[0]!.restarts, unread.instances[0]!.wakes], [null, null]);
  deepEqual([unread.summary.restarts, unread.summary.oom_kills], [null, null]);
  match(
    renderReport(unread, "text"),
    /restarts \? \(0 in all\), failures \?, OOM kills \?, wakes \?/,
  );
});

Deno.test("buildReport(): an instance retrying after it failed stays failed until it is ready", async (t) => {
  const failed = event(
    "web:a",
    failedEvent("exited with code 3; more than 1 restarts in 60s"),
    HOUR,
  );
  const cases: Array<[string, Partial<InstanceJson>, LogEntryJson[], boolean]> = [
    ["starting again after failed", { status: "starting", health: "unknown" }, [failed], true],
    ["backing off after failed", { status: "backoff", health: "unknown" }, [failed], true],
    ["ready since", { status: "running" }, [failed, event("web:a", readyEvent(5), 1000)], false],
    ["starting after a ready run", { status: "starting", health: "unknown" }, [
      failed,
      event("web:a", readyEvent(5), 1000),
    ], false],
    ["stopped by the operator", { status: "stopped", health: "unknown" }, [failed], false],
    ["failed before the window", { status: "starting", health: "unknown" }, [
      event("web:a", failedEvent("x"), 25 * HOUR),
    ], false],
  ];
  for (const [name, fields, events, isFailed] of cases) {
    await t.step(name, () => {
      const report = buildReport(input({ instances: [row("web:a", fields)], events }));
      equal(report.instances[0]!.is_failed, isFailed);
      equal(isThresholdCrossed(report, "failed"), isFailed);
    });
  }
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
  match(text, /restarts 0 \(2 in all\), failures 0, .*disk 2\.0 KiB of 1\.0 MiB/);
  const markdown = renderReport(report, "markdown");
  match(markdown, /^\| web:a \| failed \(exited with code 3\) \| 0 \|/m);
  match(markdown, /^- 1× `cannot open \| database`$/m);
  const json = JSON.parse(renderReport(report, "json"));
  equal(json.verdict, "failed");
  equal(json.instances[0].top_errors[0].message, "cannot open | database");
});

Deno.test("buildReport(): an app cannot forge lifecycle facts with its own output", () => {
  const report = buildReport(input({
    instances: [
      row("web:a", {
        status: "backoff",
        health: "unknown",
        // The app printed "out of memory" to stderr and exited with code 1.
        reason: 'exited with code 1 (last stderr: "fatal: out of memory")',
      }),
    ],
    stderrLines: [
      { ...stderr("web:a", EVENT_PREFIX + restartingEvent(100), HOUR) },
      { ...stderr("web:a", EVENT_PREFIX + outOfMemoryEvent(64), HOUR), level: "stdout" },
    ],
    events: [
      // Lines of the app's own output, even when a client passes them along with the events.
      { ...event("web:a", restartingEvent(100), HOUR), level: "stderr" },
      { ...event("web:a", outOfMemoryEvent(64), HOUR), level: "stdout" },
      { ...event("web:a", wokeEvent(5, "queued 0 ms"), HOUR), level: "stdout" },
    ],
  }));
  const [a] = report.instances;
  deepEqual([a!.restarts, a!.oom_kills, a!.wakes], [0, 0, 0]);
  equal(a!.last_exit_oom, false, "the OOM killer did not end the run; the app only said so");
});

Deno.test("buildReport(): an app's error lines cannot drive the terminal or cron mail the report goes to", () => {
  // Cursor up, erase the line, then a forged verdict: printed raw, it would hide "FAILED".
  const forged = "\x1b[1A\x1b[2K\rtenement OK at http://box:8080\u202e\x07\x9b";
  const report = buildReport(input({
    instances: [
      row("web:a", { status: "failed", health: "failed", reason: `health check: ${forged}` }),
    ],
    stderrLines: [stderr("web:a", forged, HOUR)],
  }));
  const [error] = report.instances[0]!.top_errors;
  equal(
    error!.message,
    "\\u001b[1A\\u001b[2K\\u000dtenement OK at http://box:8080\\u202e\\u0007\\u009b",
  );
  for (const format of ["text", "markdown"] as const) {
    equal(
      // deno-lint-ignore no-control-regex -- control characters are what must not be there
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(
        renderReport(report, format),
      ),
      false,
      format,
    );
  }
});
