/**
 * The idle sweep on fakes: instances fall asleep after their idle timeout whatever happened to
 * them or to other instances before (crashes, waits for a restart, explicit stops, abandoned
 * wakes), and a sweep that finds an instance busy tries again.
 */
import { equal } from "node:assert/strict";
import { createTestSupervisor, type TestSupervisor } from "./testing/fakes.ts";

const NEVER_ABORTED = new AbortController().signal;
const SERVICE = `
health_check_interval = 1
backoff_base_ms = 0
[service.idle]
command = "app {id}"
idle_timeout = 2
`;
const ONE = { service: "idle", id: "one" };
const X = { service: "idle", id: "x" };

async function started(): Promise<TestSupervisor> {
  const t = createTestSupervisor(SERVICE);
  await t.supervisor.start();
  await t.clock.settle();
  return t;
}

Deno.test("after another instance was killed, woken by a request and stopped, an idle instance sleeps", async () => {
  await using t = await started();
  const { supervisor, clock, launcher } = t;
  await supervisor.spawn(X);
  const old = await supervisor.resolveDirect("idle", "x", NEVER_ABORTED);
  let release = supervisor.beginRequest(old);
  launcher.last("x").exit({ code: null, signal: "SIGKILL" });
  // The proxy's connect is refused: it waits for the restart and moves the request over.
  const waiting = supervisor.waitForRestart(old, NEVER_ABORTED);
  await clock.advance(0);
  const next = await waiting;
  equal(next?.port, launcher.last("x").port);
  release();
  release = supervisor.beginRequest(next!);
  release();
  await supervisor.stop(X);
  equal(supervisor.get(X)?.activeRequests, 0);

  await supervisor.spawn(ONE);
  const target = await supervisor.resolveDirect("idle", "one", NEVER_ABORTED);
  supervisor.beginRequest(target)();
  await clock.advance(2_000 + 2 * 1_000);
  equal(supervisor.get(ONE)?.status, "asleep");
});

Deno.test("idle time counts from readiness: a start longer than idle_timeout is not idleness", async () => {
  await using t = await started();
  const { supervisor, clock, prober } = t;
  prober.isHealthy = () => false;
  const spawning = supervisor.spawn(ONE);
  await clock.advance(5_000);
  prober.isHealthy = () => true;
  await clock.advance(100);
  equal((await spawning).status, "running");
  // Launched 5 s ago, ready just now: the idle timeout (2 s) starts now.
  await clock.advance(1_500);
  equal(supervisor.get(ONE)?.status, "running");
  await clock.advance(2_000 + 1_000);
  equal(supervisor.get(ONE)?.status, "asleep");
});

Deno.test("a target handed out just before a sweep is not put to sleep under the request", async () => {
  await using t = await started();
  const { supervisor, clock, launcher } = t;
  // Sweeps run every second from the start; the last request ends 500 ms after one.
  const startedAtMs = clock.now();
  await supervisor.spawn(ONE);
  await clock.advance(500);
  supervisor.beginRequest(await supervisor.resolveDirect("idle", "one", NEVER_ABORTED))();
  // Idle for longer than idle_timeout, a millisecond before the sweep at 3 s.
  await clock.advance(startedAtMs + 3_000 - 1 - clock.now());
  equal(supervisor.get(ONE)?.status, "running");
  const target = await supervisor.resolveDirect("idle", "one", NEVER_ABORTED);
  // The sweep runs between the resolution and the proxy's beginRequest.
  await clock.advance(1);
  const done = supervisor.beginRequest(target);
  equal(supervisor.get(ONE)?.status, "running");
  equal(launcher.last("one").isAlive, true, "the request's process was stopped under it");
  done();
});
