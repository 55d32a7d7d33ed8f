/**
 * `/metrics` of a real daemon with real fixture apps: requests by status class, a wake from
 * sleep with its phases, idle stops, the sampled memory and CPU of awake instances, the daemon's
 * own gauges; the real `promtool check metrics` accepts it without a word (with and without the
 * instance label), and a forgotten instance's series are gone.
 * @module
 */
import { equal, ok } from "node:assert/strict";
import {
  assertPromtoolQuiet,
  type Daemon,
  okService,
  settingsBlock,
  startDaemon,
  succeeded,
  waitFor,
} from "../testkit/mod.ts";
import { INSTANCE_STATUSES } from "../src/core/lifecycle.ts";

/** One sample line of the exposition text. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function samplesOf(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)) {
      labels[name!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The samples of `name` whose labels include `labels`. */
function find(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return samplesOf(text).filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

/** The value of the one sample of `name` with `labels`; fails when there is not exactly one. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = find(text, name, labels);
  equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples\n${text}`);
  return found[0]!.value;
}

const ALICE = { instance: "alice", process: "notes" };
const BOB = { instance: "bob", process: "sleepy" };

function config(extra: Record<string, boolean> = {}): string {
  return settingsBlock(extra) + okService("notes") + okService("sleepy", { idle_timeout: 0.5 });
}

async function getOk(d: Daemon, host: string, path: string, status: number): Promise<void> {
  const res = await d.request(host, path);
  equal(res.status, status, `${host}${path}: ${res.body}`);
}

Deno.test("/metrics answers why alice was slow, and promtool accepts it without a word", async (t) => {
  await using d = await startDaemon({ config: config() });
  await d.spawn("notes", "alice");
  await getOk(d, "alice.notes.localhost", "/", 200);
  await getOk(d, "alice.notes.localhost", "/hello", 200);
  await getOk(d, "alice.notes.localhost", "/status/404", 404);
  await getOk(d, "alice.notes.localhost", "/status/503", 503);

  // bob goes to sleep after 0.5 s without a request, then a request wakes it.
  await d.spawn("sleepy", "bob");
  await d.untilStatus("sleepy:bob", "asleep", { timeoutMs: 15_000 });
  await getOk(d, "bob.sleepy.localhost", "/", 200);

  // The sampler runs every 5 s: wait for a sample of alice (bob soon sleeps again).
  let last = "";
  const text = await waitFor(async () => {
    last = await d.metrics();
    const rss = find(last, "tenement_instance_resident_memory_bytes", ALICE);
    return rss.some((s) => s.value > 0) ? last : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250, what: "a resource sample of alice" })
    .catch((err: unknown) => {
      throw new Error(`${err}; last /metrics:\n${last}`);
    });

  await t.step("promtool check metrics: exit 0, no output", () => assertPromtoolQuiet(text));

  await t.step("requests by status class, durations in seconds", () => {
    equal(valueOf(text, "tenement_requests_total", { ...ALICE, code: "2xx" }), 2);
    equal(valueOf(text, "tenement_requests_total", { ...ALICE, code: "4xx" }), 1);
    equal(valueOf(text, "tenement_requests_total", { ...ALICE, code: "5xx" }), 1);
    equal(valueOf(text, "tenement_request_duration_seconds_count", ALICE), 4);
    const sum = valueOf(text, "tenement_request_duration_seconds_sum", ALICE);
    ok(sum > 0 && sum < 10, `sum ${sum} s`);
    equal(find(text, "tenement_request_duration_ms_count").length, 0);
  });

  await t.step("the wake: counted, timed, and each phase timed", () => {
    equal(valueOf(text, "tenement_wakes_total", BOB), 1);
    equal(valueOf(text, "tenement_wake_duration_seconds_count", BOB), 1);
    const total = valueOf(text, "tenement_wake_duration_seconds_sum", BOB);
    ok(total > 0 && total < 15, `wake ${total} s`);
    let phasesSum = 0;
    for (const phase of ["queued", "spawned", "listening", "healthy"]) {
      // Per service: bob's is the only wake of `sleepy`.
      const labels = { process: BOB.process, phase };
      equal(valueOf(text, "tenement_wake_phase_duration_seconds_count", labels), 1);
      phasesSum += valueOf(text, "tenement_wake_phase_duration_seconds_sum", labels);
      equal(find(text, "tenement_wake_phase_duration_seconds_count", BOB).length, 0);
    }
    ok(Math.abs(phasesSum - total) < 0.01, `phases ${phasesSum} s, total ${total} s`);
    equal(find(text, "tenement_wakes_total", ALICE).length, 0, "alice was spawned, not woken");
  });

  await t.step("instances by status (every status), up, healthy, idle stops", () => {
    let known = 0;
    for (const status of INSTANCE_STATUSES) {
      known += valueOf(text, "tenement_instances", { status });
    }
    equal(known, 2);
    ok(valueOf(text, "tenement_instances", { status: "running" }) >= 1);
    ok(valueOf(text, "tenement_instances_up") >= 1);
    equal(valueOf(text, "tenement_instance_healthy", ALICE), 1);
    ok(valueOf(text, "tenement_idle_stops_total", BOB) >= 1);
    equal(find(text, "tenement_instance_restarts_total", ALICE).length, 0, "no restart yet");
  });

  await t.step("memory and CPU of each awake instance, the daemon's own gauges", () => {
    for (const who of [ALICE]) {
      const rss = valueOf(text, "tenement_instance_resident_memory_bytes", who);
      ok(rss > 1_000_000 && rss < 1e9, `${who.instance}: rss ${rss}`);
      const cpu = valueOf(text, "tenement_instance_cpu_seconds_total", who);
      ok(cpu >= 0 && cpu < 60, `${who.instance}: cpu ${cpu}`);
    }
    ok(valueOf(text, "tenement_daemon_resident_memory_bytes") > 10_000_000);
    ok(valueOf(text, "tenement_client_connections") >= 0);
    const lag = valueOf(text, "tenement_event_loop_lag_seconds");
    ok(lag >= 0 && lag < 10, `lag ${lag}`);
    ok(valueOf(text, "tenement_log_lines_total", ALICE) > 0);
  });

  await t.step("/api/instances shows rss_bytes and cpu_seconds of awake instances", async () => {
    const alice = await d.instance("notes:alice");
    ok((alice?.rss_bytes ?? 0) > 1_000_000, JSON.stringify(alice));
    ok((alice?.cpu_seconds ?? -1) >= 0, JSON.stringify(alice));
  });

  await t.step("ten rm drops every series of the forgotten instance", async () => {
    succeeded(await d.ten(["stop", "sleepy:bob"]), "stop bob");
    succeeded(await d.ten(["rm", "sleepy:bob"]), "rm bob");
    const after = await d.metrics();
    ok(!after.includes('instance="bob"'), after);
    ok(after.includes('instance="alice"'), after);
    await assertPromtoolQuiet(after);
  });

  await t.step(
    "metrics_instance_label = false: no instance label, summed, promtool quiet",
    async () => {
      await d.writeConfig(config({ metrics_instance_label: false }));
      succeeded(await d.ten(["reload"]), "reload");
      const summed = await d.metrics();
      ok(!summed.includes("instance="), summed);
      equal(valueOf(summed, "tenement_requests_total", { process: "notes", code: "2xx" }), 2);
      await assertPromtoolQuiet(summed);
    },
  );
});
