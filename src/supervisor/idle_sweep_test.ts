/**
 * The idle sweep on fakes: instances fall asleep after their idle timeout whatever happened to
 * them or to other instances before (crashes, waits for a restart, explicit stops, abandoned
 * wakes), and a sweep that finds an instance busy tries again.
 */
import { equal, ok, rejects } from "node:assert/strict";
import { ForbiddenError } from "../core/errors.ts";
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

const FORGET = `
[service.notes]
command = "app {id}"
idle_timeout = 60
auto_create_forget_after = "2h"
storage_persist = false
[service.kept]
command = "app {id}"
auto_create_forget_after = "1h"
[instances]
notes = ["pinned"]
`;

Deno.test("an auto-created instance unused for auto_create_forget_after is forgotten, its data dir per storage_persist", async () => {
  await using t = createTestSupervisor(FORGET);
  const { supervisor, clock, files, repo } = t;
  await supervisor.start();
  for (const [service, id] of [["notes", "old"], ["kept", "old"], ["notes", "used"]] as const) {
    supervisor.beginRequest(await supervisor.resolveDirect(service, id, NEVER_ABORTED))();
  }
  await clock.advance(30 * 60_000);
  supervisor.beginRequest(await supervisor.resolveDirect("notes", "used", NEVER_ABORTED))();
  await clock.advance(30 * 60_000 + 1_000);
  // kept:old had no request for 1 h, but it runs (idle_timeout 0): never forgotten while running.
  equal(supervisor.get({ service: "kept", id: "old" })?.status, "running");
  await supervisor.stop({ service: "kept", id: "old" });
  await clock.advance(2_000);
  equal(supervisor.get({ service: "kept", id: "old" }), undefined, "stopped and unused for 1 h");
  equal(files.removedDirs.includes("/data/kept/old"), false, "storage_persist keeps its data");
  equal(supervisor.get({ service: "notes", id: "old" })?.status, "asleep", "2 h not over yet");
  await clock.advance(60 * 60_000);
  equal(supervisor.get({ service: "notes", id: "old" }), undefined);
  equal(repo.instances.has("notes:old"), false, "gone from the store too");
  ok(files.removedDirs.includes("/data/notes/old"));
  equal(supervisor.get({ service: "notes", id: "used" })?.status, "asleep", "used 30 min later");
  await clock.advance(30 * 60_000);
  equal(supervisor.get({ service: "notes", id: "used" }), undefined);
  // [instances] and API-spawned instances are never forgotten this way.
  equal(supervisor.get({ service: "notes", id: "pinned" })?.origin, "config");
  // The forgotten id no longer counts against auto_create_limit and can be created anew.
  supervisor.beginRequest(await supervisor.resolveDirect("notes", "old", NEVER_ABORTED))();
  equal(supervisor.get({ service: "notes", id: "old" })?.status, "running");
});

Deno.test("an auto-create that crashes at start does not keep an entry that eats the budget", async () => {
  await using t = createTestSupervisor(`
backoff_base_ms = 100
[service.notes]
command = "app {id}"
startup_timeout = 1
auto_create_limit = 1
`);
  const { supervisor, clock, launcher, prober } = t;
  await supervisor.start();
  prober.listens = () => false;
  const first = supervisor.resolveDirect("notes", "broken", NEVER_ABORTED);
  const outcome = first.then(() => "served", (err: unknown) => err);
  /** Every start of the app crashes at once. */
  const crashEveryStart = async (ms: number): Promise<void> => {
    for (let spent = 0; spent < ms; spent += 100) {
      for (const p of launcher.processes) if (p.isAlive) p.exit({ code: 1, signal: null });
      await clock.advance(100);
    }
  };
  await crashEveryStart(1_500);
  ok(await outcome instanceof Error, "the creating request failed");
  // The limit is used up by the broken one for now...
  await rejects(supervisor.resolveDirect("notes", "alice", NEVER_ABORTED), ForbiddenError);
  // ...until the sweep forgets it once it stopped retrying, with no process left.
  await crashEveryStart(10_000);
  equal(supervisor.get({ service: "notes", id: "broken" }), undefined);
  equal(launcher.processes.filter((p) => p.isAlive).length, 0);
  const starts = launcher.count("broken");
  await clock.advance(120_000);
  equal(launcher.count("broken"), starts, "no retry after it was forgotten");
  prober.listens = () => true;
  supervisor.beginRequest(await supervisor.resolveDirect("notes", "alice", NEVER_ABORTED))();
  equal(supervisor.get({ service: "notes", id: "alice" })?.status, "running");
});

Deno.test("a disabled request-created instance is never forgotten: that would lift the ban", async () => {
  await using t = createTestSupervisor(FORGET);
  const { supervisor, clock } = t;
  await supervisor.start();
  supervisor.beginRequest(await supervisor.resolveDirect("notes", "old", NEVER_ABORTED))();
  await supervisor.disable({ service: "notes", id: "old" });
  await clock.advance(4 * 60 * 60_000);
  equal(supervisor.get({ service: "notes", id: "old" })?.isDisabled, true);
});
