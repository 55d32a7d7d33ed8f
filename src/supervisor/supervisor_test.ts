/**
 * The supervisor's behaviour on fakes (`testing/fakes.ts`): processes, probes, the store and time
 * are driven by hand, so each test runs in milliseconds and spawns nothing.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import {
  DeployError,
  ForbiddenError,
  NotFoundError,
  SpawnError,
  UnavailableError,
} from "../core/errors.ts";
import type { Supervisor } from "./supervisor.ts";
import { createTestSupervisor, type TestSupervisor } from "./testing/fakes.ts";

const NEVER_ABORTED = new AbortController().signal;
const A = { service: "app", id: "a" };
/** The service every test runs; the fake launcher tells instances apart by the last word. */
const APP = `
[service.app]
command = "app {id}"
`;
const TWO_INSTANCES = `${APP}
[instances]
app = ["a", "b"]
`;

/** A test supervisor, started, with its start-up work done. */
async function startedTestSupervisor(toml: string): Promise<TestSupervisor> {
  const t = createTestSupervisor(toml);
  await t.supervisor.start();
  await t.clock.settle();
  return t;
}

/** Every instance's weight by id. */
function weightsOf(supervisor: Supervisor): Record<string, number> {
  return Object.fromEntries(supervisor.list({ all: true }).map((s) => [s.id, s.weight]));
}

Deno.test("a crash loop backs off, ends in failed, and is retried after backoff_max_ms", async () => {
  await using t = createTestSupervisor(`
max_restarts = 2
restart_window = 60
backoff_base_ms = 100
backoff_max_ms = 1000
${APP}restart = "always"
`);
  const { supervisor, clock, launcher } = t;
  await supervisor.spawn(A);
  equal(supervisor.get(A)?.status, "running");

  // First crash: restarted at once.
  launcher.last("a").exit({ code: 1, signal: null });
  await clock.settle();
  equal(supervisor.get(A)?.status, "backoff");
  await clock.advance(0);
  equal(launcher.count("a"), 2);
  equal(supervisor.get(A)?.status, "running");

  // Second crash: waits backoff_base_ms (jitter is centred on 0.5).
  launcher.last("a").exit({ code: 1, signal: null });
  await clock.settle();
  deepEqual(
    [supervisor.get(A)?.status, supervisor.get(A)?.retryAtMs],
    ["backoff", clock.now() + 100],
  );
  await clock.advance(99);
  equal(launcher.count("a"), 2);
  await clock.advance(1);
  equal(launcher.count("a"), 3);

  // Third crash in the window: more than max_restarts, so failed.
  launcher.last("a").exit({ code: 1, signal: null });
  await clock.settle();
  const failed = supervisor.get(A);
  equal(failed?.status, "failed");
  equal(failed?.health, "failed");
  equal(failed?.reason, "exited with code 1; more than 2 restarts in 60s");
  equal(failed?.retryAtMs, clock.now() + 1000);
  await rejects(supervisor.resolveDirect("app", "a", NEVER_ABORTED), UnavailableError);

  // Retried once backoff_max_ms has passed.
  await clock.advance(999);
  equal(launcher.count("a"), 3);
  await clock.advance(1);
  equal(launcher.count("a"), 4);
  equal(supervisor.get(A)?.status, "running");
  equal(supervisor.get(A)?.restarts, 3);
});

Deno.test("ten restart clears failed and pays no backoff", async () => {
  await using t = createTestSupervisor(`
max_restarts = 1
backoff_base_ms = 100
backoff_max_ms = 60000
${APP}restart = "always"
`);
  const { supervisor, clock, launcher } = t;
  await supervisor.spawn(A);
  launcher.last("a").exit();
  await clock.advance(0);
  launcher.last("a").exit();
  await clock.settle();
  equal(supervisor.get(A)?.status, "failed");
  equal(launcher.count("a"), 2);

  const restarted = await supervisor.restart(A);
  equal(restarted.status, "running");
  equal(restarted.reason, undefined);
  equal(restarted.retryAtMs, undefined);
  equal(launcher.count("a"), 3, "started without waiting for the clock");

  // The crash history is gone: the next crash backs off from the start instead of failing.
  launcher.last("a").exit();
  await clock.settle();
  equal(supervisor.get(A)?.status, "backoff");
  await clock.advance(0);
  equal(launcher.count("a"), 4);
  // And the old failed retry does not fire a second start.
  await clock.advance(60_000);
  equal(launcher.count("a"), 4);
});

Deno.test("a deploy that never gets healthy leaves every weight untouched", async () => {
  await using t = createTestSupervisor(`
${APP}health = "/health"

[instances]
app = ["a", "b"]
`);
  const { supervisor, clock, launcher, prober, repo } = t;
  await supervisor.start();
  await clock.settle();
  await supervisor.setWeight({ service: "app", id: "b" }, 30);
  prober.isHealthy = (p) => p.spec.argv.at(-1) !== "c";

  const deploying = supervisor.deploy({ service: "app", id: "c" }, {
    weight: 50,
    timeoutMs: 5_000,
  });
  const failed = rejects(deploying, (err: unknown) => {
    ok(err instanceof DeployError);
    equal(err.message, "Instance app:c did not become healthy within 5 seconds");
    return true;
  });
  await clock.advance(11_000);
  await failed;

  deepEqual(weightsOf(supervisor), { a: 100, b: 30, c: 0 });
  equal(repo.routeCommits, 0);
  equal(repo.weights.get("app:b"), 30);
  equal(repo.weights.has("app:a"), false);
  const c = supervisor.get({ service: "app", id: "c" });
  equal(c?.status, "stopped");
  ok(c?.reason?.startsWith("deploy failed: Instance app:c did not become healthy"));
  equal(launcher.last("c").isAlive, false);
});

Deno.test("rollback restores the replaced weights, and a second rollback undoes the first", async () => {
  await using t = await startedTestSupervisor(TWO_INSTANCES);
  const { supervisor } = t;
  const weights = (): Record<string, number> => weightsOf(supervisor);
  await rejects(supervisor.rollback("app"), NotFoundError);

  await supervisor.route("app", "a", "b");
  deepEqual(weights(), { a: 0, b: 100 });
  await supervisor.rollback("app");
  deepEqual(weights(), { a: 100, b: 100 });
  await supervisor.rollback("app");
  deepEqual(weights(), { a: 0, b: 100 });
  await supervisor.rollback("app");
  deepEqual(weights(), { a: 100, b: 100 });
});

Deno.test("rollback starts an instance that gets traffic back before moving it", async () => {
  await using t = await startedTestSupervisor(TWO_INSTANCES);
  const { supervisor } = t;
  await supervisor.route("app", "a", "b", { stopOld: true });
  equal(supervisor.get(A)?.status, "stopped");
  await supervisor.rollback("app");
  equal(supervisor.get(A)?.status, "running");
  equal(supervisor.get(A)?.weight, 100);
});

Deno.test("auto-create: the allow list, the total limit and the per-minute limit", async (t) => {
  await t.step("an id off the allow list is not found", async () => {
    await using s = createTestSupervisor(`
${APP}auto_create_allow = ["alice"]
`);
    await s.supervisor.resolveDirect("app", "alice", NEVER_ABORTED);
    await rejects(s.supervisor.resolveDirect("app", "mallory", NEVER_ABORTED), NotFoundError);
    equal(s.supervisor.get({ service: "app", id: "mallory" }), undefined);
  });

  await t.step("auto_create = false creates nothing", async () => {
    await using s = createTestSupervisor(`
${APP}auto_create = false
`);
    await rejects(s.supervisor.resolveDirect("app", "x", NEVER_ABORTED), NotFoundError);
    equal(s.launcher.processes.length, 0);
  });

  await t.step("per minute, then in total", async () => {
    await using s = createTestSupervisor(`
${APP}auto_create_limit = 3
auto_create_per_minute = 2
`);
    const { supervisor, clock } = s;
    await supervisor.resolveDirect("app", "x1", NEVER_ABORTED);
    await supervisor.resolveDirect("app", "x2", NEVER_ABORTED);
    await rejects(supervisor.resolveDirect("app", "x3", NEVER_ABORTED), (err: unknown) => {
      ok(err instanceof UnavailableError);
      equal(err.message, "Too many new instances, retry later");
      return true;
    });
    // Known instances are not new: they pass whatever the limits.
    await supervisor.resolveDirect("app", "x1", NEVER_ABORTED);
    await clock.advance(60_000);
    await supervisor.resolveDirect("app", "x3", NEVER_ABORTED);
    await rejects(supervisor.resolveDirect("app", "x4", NEVER_ABORTED), ForbiddenError);
    equal(s.launcher.processes.length, 3);
    equal(supervisor.get({ service: "app", id: "x3" })?.weight, 0, "no shared-route traffic");
  });
});

Deno.test("the idle sweep never stops an instance with a request in flight", async () => {
  await using t = createTestSupervisor(`
${APP}idle_timeout = 5
`);
  const { supervisor, clock, launcher } = t;
  await supervisor.start();
  const target = await supervisor.resolveDirect("app", "a", NEVER_ABORTED);
  const done = supervisor.beginRequest(target);
  await clock.advance(60_000);
  equal(supervisor.get(A)?.status, "running");
  equal(launcher.last("a").isAlive, true);

  done();
  await clock.advance(4_000);
  equal(supervisor.get(A)?.status, "running");
  await clock.advance(2_000);
  const asleep = supervisor.get(A);
  equal(asleep?.status, "asleep");
  equal(asleep?.reason, "idle for 5s");
  equal(launcher.last("a").isAlive, false);
  equal(t.files.removedDirs.length, 0, "sleeping keeps the data");

  // The next request wakes it.
  await supervisor.resolveDirect("app", "a", NEVER_ABORTED);
  equal(launcher.count("a"), 2);
});

Deno.test("50 concurrent requests for a stopped instance launch it exactly once", async () => {
  await using t = createTestSupervisor(`
${APP}`);
  const { supervisor, clock, launcher } = t;
  await supervisor.spawn(A);
  await supervisor.stop(A);
  equal(launcher.count("a"), 1);

  const release = launcher.hold();
  const requests = Array.from(
    { length: 50 },
    () => supervisor.resolveDirect("app", "a", NEVER_ABORTED),
  );
  await clock.settle();
  release();
  const targets = await Promise.all(requests);
  equal(launcher.count("a"), 2);
  equal(new Set(targets).size, 1);
  equal(targets[0]?.port, launcher.last("a").port);
});

Deno.test("a stop during a start ends the start, and nothing restarts the instance", async () => {
  await using t = createTestSupervisor(`
${APP}storage_persist = false
`);
  const { supervisor, clock, launcher, prober } = t;
  prober.isHealthy = () => false;
  const release = launcher.hold();
  const spawning = supervisor.spawn(A);
  const spawnFailed = rejects(spawning, (err: unknown) => {
    ok(err instanceof SpawnError);
    equal(err.message, "app:a exited during start-up: stopped by request");
    return true;
  });
  await clock.settle();
  const stopping = supervisor.stop(A);
  await clock.settle();
  release();
  const stopped = await stopping;
  await spawnFailed;

  equal(stopped.status, "stopped");
  equal(stopped.pid, undefined);
  equal(launcher.count("a"), 1);
  equal(launcher.last("a").stopCalls, 1);
  deepEqual(t.files.removedDirs, ["/data/app/a"]);
  await clock.advance(120_000);
  equal(launcher.count("a"), 1);
  equal(supervisor.get(A)?.status, "stopped");
});

Deno.test("an instance failing its health checks three times is restarted", async () => {
  await using t = createTestSupervisor(`
health_check_interval = 1
${APP}health = "/health"
restart = "never"
`);
  const { supervisor, clock, launcher, prober } = t;
  await supervisor.spawn(A);
  prober.isHealthy = () => false;
  await clock.advance(1_000);
  equal(supervisor.get(A)?.health, "degraded");
  await clock.advance(2_000);
  // Restarted whatever the restart policy, after the first crash's zero delay.
  await clock.advance(0);
  equal(launcher.count("a"), 2);
  equal(launcher.processes[0]?.stopCalls, 1);
  prober.isHealthy = () => true;
  await clock.advance(1);
  equal(supervisor.get(A)?.status, "running");
  equal(supervisor.get(A)?.health, "healthy");
});

Deno.test("a launch that throws backs off with the launcher's message, then retries", async () => {
  // At daemon start; an explicit spawn stops instead (startup_test.ts).
  await using t = createTestSupervisor(`
${APP}
[instances]
app = ["a"]
`);
  const { supervisor, clock, launcher } = t;
  launcher.failNext("command not found: app");
  await supervisor.start();
  await clock.settle();
  const failed = supervisor.get(A);
  deepEqual([failed?.status, failed?.reason], ["backoff", "command not found: app"]);
  await clock.advance(0);
  equal(supervisor.get(A)?.status, "running");
});

Deno.test("start() restores stored instances: running ones start, asleep ones stay asleep", async () => {
  await using t = createTestSupervisor(`
${APP}
[instances]
app = ["c"]
`);
  const { supervisor, clock, launcher, repo } = t;
  const stored = { service: "app", origin: "api", restartsTotal: 2, process: undefined } as const;
  await repo.putInstance({ ...stored, id: "a", desired: "running" });
  await repo.putInstance({ ...stored, id: "b", desired: "asleep" });
  await repo.putInstance({ ...stored, service: "gone", id: "x", desired: "running" });
  await repo.putWeight("app", "a", 40);
  await supervisor.start();
  await clock.settle();
  const rows = supervisor.list({ all: true }).map((s) => [s.id, s.status, s.weight, s.restarts]);
  deepEqual(rows, [
    ["a", "running", 40, 2],
    ["b", "asleep", 100, 2],
    ["c", "running", 100, 0],
  ]);
  deepEqual(launcher.processes.map((p) => p.spec.argv.at(-1)).sort(), ["a", "c"]);
});

Deno.test("shutdown stops every process and keeps the desired states", async () => {
  const t = await startedTestSupervisor(TWO_INSTANCES);
  await t[Symbol.asyncDispose]();
  ok(t.launcher.processes.every((p) => !p.isAlive));
  deepEqual([...t.repo.instances.values()].map((s) => [s.id, s.desired, s.process]), [
    ["a", "running", undefined],
    ["b", "running", undefined],
  ]);
  equal(t.files.removedDirs.length, 0);
});

Deno.test("mayObtainCertificate: configured services, known instances and allow-listed ids; it creates nothing and spends no budget", async () => {
  await using s = createTestSupervisor(`
${APP}auto_create_allow = ["alice", "bob"]
auto_create_per_minute = 1
`);
  const { supervisor } = s;
  equal(supervisor.mayObtainCertificate("app", undefined), true, "the weighted route");
  equal(supervisor.mayObtainCertificate("app", "alice"), true, "allow-listed, not created yet");
  equal(supervisor.mayObtainCertificate("app", "mallory"), false, "off the allow list");
  equal(supervisor.mayObtainCertificate("nosuch", undefined), false);
  equal(supervisor.mayObtainCertificate("nosuch", "alice"), false);
  equal(supervisor.list({ all: true }).length, 0, "asking created nothing");
  await supervisor.resolveDirect("app", "alice", NEVER_ABORTED);
  // Asking spent nothing, and an exhausted per-minute budget does not matter for named ids.
  equal(supervisor.mayObtainCertificate("app", "bob"), true);
  equal(supervisor.mayObtainCertificate("app", "alice"), true);
});

Deno.test("weights and origins survive a daemon restart; a request-created tenant stays off the shared route", async () => {
  const toml = `${APP}
[instances]
app = ["a"]
`;
  const rows = (s: Supervisor): unknown[] =>
    s.list({ all: true }).map((v) => [v.id, v.weight, v.origin]);
  const expected = [
    ["a", 100, "config"],
    ["b", 30, "api"],
    ["carol", 0, "request"],
    ["dave", 40, "request"],
  ];
  const before = await startedTestSupervisor(toml);
  await before.supervisor.resolveDirect("app", "carol", NEVER_ABORTED);
  await before.supervisor.resolveDirect("app", "dave", NEVER_ABORTED);
  await before.supervisor.setWeight({ service: "app", id: "dave" }, 40);
  await before.supervisor.spawn({ service: "app", id: "b" });
  await before.supervisor.setWeight({ service: "app", id: "b" }, 30);
  deepEqual(rows(before.supervisor), expected);
  await before[Symbol.asyncDispose]();

  // A new supervisor on the same store is the daemon after SIGTERM and `ten serve` again.
  await using after = createTestSupervisor(toml, { repo: before.repo });
  await after.supervisor.start();
  await after.clock.settle();
  deepEqual(rows(after.supervisor), expected);
  await after.supervisor.setWeight({ service: "app", id: "b" }, 0);
  await after.supervisor.setWeight({ service: "app", id: "dave" }, 0);
  for (const random of [0, 0.25, 0.5, 0.75, 0.999]) {
    after.clock.randomValue = random;
    const target = await after.supervisor.resolveWeighted("app", NEVER_ABORTED);
    equal(target.id, "a", `random ${random}`);
  }
});

Deno.test("deploy without a weight: 100 for a service's first version, 0 next to one with traffic; an explicit weight wins", async () => {
  await using t = createTestSupervisor(`
${APP}health = "/health"
`);
  const { supervisor, clock, repo } = t;
  const deploy = async (id: string, weight?: number): Promise<number> => {
    const done = supervisor.deploy({ service: "app", id }, { weight, timeoutMs: 5_000 });
    await clock.advance(1_000);
    return (await done).weight;
  };
  // A tenant created by its own Host has no traffic: the next deploy is still the first.
  await supervisor.resolveDirect("app", "carol", NEVER_ABORTED);
  equal(await deploy("v1"), 100);
  equal(await deploy("v2"), 0);
  deepEqual(weightsOf(supervisor), { carol: 0, v1: 100, v2: 0 });
  equal(repo.weights.get("app:v2"), 0);

  // A redeploy moves no traffic either way.
  equal(await deploy("v1"), 100);
  equal(await deploy("v2"), 0);

  // An explicit weight always wins, 100 and 0 included.
  equal(await deploy("v3", 100), 100);
  equal(await deploy("v2", 0), 0);
  equal(await deploy("v1", 20), 20);
  deepEqual(weightsOf(supervisor), { carol: 0, v1: 20, v2: 0, v3: 100 });

  // Once no other version has traffic, a deploy without a weight gets 100 again.
  await supervisor.setWeight({ service: "app", id: "v1" }, 0);
  await supervisor.setWeight({ service: "app", id: "v3" }, 0);
  equal(await deploy("v4"), 100);
});

Deno.test("ids are case-insensitive: api:Bob and api:bob are one instance with one data dir", async () => {
  await using t = createTestSupervisor(`${APP}storage_persist = false
`);
  const { supervisor, launcher } = t;
  const first = await supervisor.spawn({ service: "app", id: "Bob" });
  const second = await supervisor.spawn({ service: "app", id: "bob" });
  equal(launcher.processes.length, 1, "one process");
  equal(second.key, "app:Bob", "the spelling it was created with");
  equal(second.pid, first.pid);
  deepEqual(supervisor.list({ all: true }).map((s) => s.key), ["app:Bob"]);
  equal(supervisor.get({ service: "app", id: "BOB" })?.key, "app:Bob");
  const target = await supervisor.resolveDirect("app", "bob", NEVER_ABORTED);
  equal(target.port, first.port, "the host name bob.app reaches it");
  await supervisor.stop({ service: "app", id: "BOB" });
  equal(supervisor.get({ service: "app", id: "Bob" })?.status, "stopped");
  deepEqual(t.files.removedDirs.map((dir) => dir.split("/").slice(-2).join("/")), ["app/Bob"]);
});

Deno.test("a command that cannot be split fails each spawn without keeping a start slot", async () => {
  await using t = createTestSupervisor(`max_concurrent_starts = 1

[service.app]
command = "app 'unbalanced"
`);
  const { supervisor, clock } = t;
  // With the slot kept, the second spawn would wait for it forever.
  for (const id of ["a", "b", "c"]) {
    const failed = rejects(supervisor.spawn({ service: "app", id }), /unbalanced single quote/);
    await clock.settle();
    await failed;
  }
  equal(t.launcher.processes.length, 0);
});

Deno.test("mayObtainCertificate: with an open auto_create, random new ids are refused; known instances in any state pass", async () => {
  await using s = createTestSupervisor(`${APP}auto_create_per_minute = 100
`);
  const { supervisor } = s;
  for (let i = 0; i < 5; i++) {
    equal(supervisor.mayObtainCertificate("app", `r${i}`), false, `r${i} is not known`);
  }
  equal(supervisor.list({ all: true }).length, 0);
  await supervisor.spawn({ service: "app", id: "carol" });
  equal(supervisor.mayObtainCertificate("app", "carol"), true, "a spawned instance");
  equal(supervisor.mayObtainCertificate("app", "CAROL"), true, "host names are case-insensitive");
  await supervisor.stop({ service: "app", id: "carol" });
  equal(supervisor.mayObtainCertificate("app", "carol"), true, "a stopped one is still known");
});
