/**
 * Start-up failures on fakes: an explicit spawn whose app exits or never listens during its
 * start-up fails and stops the instance; an app that listens but fails its health check is
 * returned with a warning and left to the health policy; starts nobody asked for (daemon start,
 * wakes, retries) keep the restart policy.
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { SpawnError } from "../core/errors.ts";
import { createTestSupervisor } from "./testing/fakes.ts";

const A = { service: "app", id: "a" };
const NEVER_ABORTED = new AbortController().signal;
/** A service with a 2 s start-up time; the fake launcher tells instances apart by the last word. */
const APP = `
[service.app]
command = "app {id}"
startup_timeout = 2
`;

/** Asserts that `spawning` fails with a SpawnError whose message matches every pattern. */
function failsWith(spawning: Promise<unknown>, ...patterns: RegExp[]): Promise<SpawnError> {
  const caught = Promise.withResolvers<SpawnError>();
  const checked = rejects(spawning, (err: unknown) => {
    ok(err instanceof SpawnError, String(err));
    for (const pattern of patterns) match(err.message, pattern);
    caught.resolve(err);
    return true;
  });
  return checked.then(() => caught.promise);
}

Deno.test("a spawned app that never listens fails after startup_timeout and is stopped", async () => {
  await using t = createTestSupervisor(`backoff_base_ms = 0
${APP}`);
  const { supervisor, clock, launcher, prober, repo } = t;
  prober.listens = () => false;
  const spawning = failsWith(
    supervisor.spawn(A),
    /^app:a did not start: nothing is listening on port \d+ after 2 s: the app must listen on \$PORT\. app:a is stopped; fix it and run ten spawn again$/,
  );
  await clock.settle();
  launcher.last("a").spec.onLine("stderr", "listening on 127.0.0.1:8000");
  await clock.advance(2_000);
  const err = await spawning;
  deepEqual(err.details, ["stderr:", "  listening on 127.0.0.1:8000"]);

  const row = supervisor.get(A);
  equal(row?.status, "stopped");
  match(row?.reason ?? "", /^nothing is listening on port \d+ after 2 s/);
  equal(launcher.last("a").stopCalls, 1, "its process was stopped");
  equal(repo.instances.get("app:a")?.desired, "stopped");
  await clock.advance(120_000);
  equal(launcher.count("a"), 1, "and never restarted");
  deepEqual(t.files.removedDirs, [], "its data is kept");
});

Deno.test("a spawned app that exits during start-up is stopped, not restarted", async () => {
  await using t = createTestSupervisor(`backoff_base_ms = 0
${APP}restart = "always"
`);
  const { supervisor, clock, launcher, prober, repo } = t;
  prober.listens = () => false;
  const spawning = failsWith(
    supervisor.spawn(A),
    /^app:a exited during start-up: exited with code 3 \(last stderr: "fatal: no db"\)\. app:a is stopped; fix it and run ten spawn again$/,
  );
  await clock.settle();
  launcher.last("a").spec.onLine("stderr", "booting");
  launcher.last("a").spec.onLine("stderr", "fatal: no db");
  launcher.last("a").exit({ code: 3, signal: null });
  const err = await spawning;
  deepEqual(err.details, ["stderr:", "  booting", "  fatal: no db"]);
  equal(supervisor.get(A)?.status, "stopped");
  equal(repo.instances.get("app:a")?.desired, "stopped");
  await clock.advance(120_000);
  equal(launcher.count("a"), 1);
  equal(supervisor.get(A)?.status, "stopped");

  // Fixed, a new spawn starts it as usual.
  prober.listens = () => true;
  equal((await supervisor.spawn(A)).status, "running");
  equal(repo.instances.get("app:a")?.desired, "running");
});

Deno.test("ten restart of an app that now crashes at start-up stops it too", async () => {
  await using t = createTestSupervisor(`backoff_base_ms = 0
${APP}`);
  const { supervisor, clock, launcher, prober } = t;
  await supervisor.spawn(A);
  prober.listens = () => false;
  const restarting = failsWith(supervisor.restart(A), /exited during start-up.*is stopped/);
  await clock.settle();
  launcher.last("a").exit({ code: 1, signal: null });
  await restarting;
  await clock.advance(60_000);
  equal(launcher.count("a"), 2);
  equal(supervisor.get(A)?.status, "stopped");
});

Deno.test("a spawned app that listens but fails its health check is returned with a warning", async () => {
  await using t = createTestSupervisor(`health_check_interval = 1
backoff_base_ms = 0
${APP}health = "/health"
`);
  const { supervisor, clock, launcher, prober } = t;
  prober.isHealthy = () => false;
  const spawning = supervisor.spawn(A);
  await clock.advance(2_000);
  const spawned = await spawning;
  equal(
    spawned.warning,
    "app:a is not healthy after 2 s (GET /health → 503); it keeps running, and is restarted while its health check fails",
  );
  equal(spawned.status, "starting");
  equal(spawned.health, "unhealthy");

  // Today's health policy: restarted after three failed checks, and not stopped.
  await clock.advance(3_000);
  await clock.advance(0);
  equal(launcher.count("a"), 2);
  prober.isHealthy = () => true;
  await clock.advance(1);
  equal(supervisor.get(A)?.status, "running");
});

Deno.test("a spawned app without a health path that accepts but hangs gets a TCP warning", async () => {
  await using t = createTestSupervisor(APP);
  const { supervisor, clock, prober } = t;
  prober.isHealthy = () => false;
  const spawning = supervisor.spawn(A);
  await clock.advance(2_000);
  match(
    (await spawning).warning ?? "",
    /^app:a is not healthy after 2 s \(TCP connect to port \d+ → timed out after 5000 ms\)/,
  );
});

Deno.test("a ready spawn has no warning", async () => {
  await using t = createTestSupervisor(APP);
  equal((await t.supervisor.spawn(A)).warning, undefined);
});

Deno.test("a spawn whose launch throws stops the instance", async () => {
  await using t = createTestSupervisor(`backoff_base_ms = 0
${APP}`);
  const { supervisor, clock, launcher, repo } = t;
  launcher.failNext("command not found: app");
  await failsWith(
    supervisor.spawn(A),
    /^command not found: app\. app:a is stopped; fix it and run ten spawn again$/,
  );
  deepEqual(
    [supervisor.get(A)?.status, supervisor.get(A)?.reason],
    ["stopped", "command not found: app"],
  );
  equal(repo.instances.get("app:a")?.desired, "stopped");
  await clock.advance(60_000);
  equal(launcher.count("a"), 0);
});

Deno.test("a spawn that joins a wake's start-up fails and stops it the same way", async () => {
  await using t = createTestSupervisor(`backoff_base_ms = 0
${APP}`);
  const { supervisor, clock, launcher, prober } = t;
  await supervisor.spawn(A);
  await supervisor.stop(A);
  prober.listens = () => false;
  const waking = supervisor.resolveDirect("app", "a", NEVER_ABORTED).catch((err: unknown) => err);
  await clock.settle();
  equal(supervisor.get(A)?.status, "starting");
  const spawning = failsWith(supervisor.spawn(A), /exited during start-up.*is stopped/);
  launcher.last("a").exit({ code: 1, signal: null });
  await spawning;
  await waking;
  await clock.advance(60_000);
  equal(launcher.count("a"), 2);
  equal(supervisor.get(A)?.status, "stopped");
});

Deno.test("instances from [instances] and wakes keep the restart policy at start-up", async () => {
  await using t = createTestSupervisor(`backoff_base_ms = 0
${APP}
[instances]
app = ["a"]
`);
  const { supervisor, clock, launcher, prober, repo } = t;
  prober.listens = () => false;
  await supervisor.start();
  await clock.settle();
  // Never listening: still up, unhealthy, and still wanted.
  await clock.advance(2_000);
  deepEqual([supervisor.get(A)?.status, supervisor.get(A)?.health], ["starting", "unhealthy"]);
  // Exiting: backs off and is started again.
  launcher.last("a").exit({ code: 1, signal: null });
  await clock.settle();
  equal(supervisor.get(A)?.status, "backoff");
  await clock.advance(0);
  equal(launcher.count("a"), 2);
  equal(repo.instances.get("app:a")?.desired, "running");

  // A wake of a stopped instance that crashes during start-up backs off too.
  prober.listens = () => true;
  await clock.advance(1);
  await supervisor.stop(A);
  prober.listens = () => false;
  const waking = supervisor.resolveDirect("app", "a", NEVER_ABORTED).catch((err: unknown) => err);
  await clock.settle();
  launcher.last("a").exit({ code: 1, signal: null });
  await clock.settle();
  equal(supervisor.get(A)?.status, "backoff");
  await clock.advance(0);
  equal(launcher.count("a"), 4);
  prober.listens = () => true;
  await clock.advance(1);
  await waking;
});
