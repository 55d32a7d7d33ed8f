/**
 * Lifecycle integration tests: wake, idle stop, crash restart, failed state, graceful and forced
 * stop of whole process groups, services without health, and recovery after `kill -9` of the
 * daemon. Real daemon, real processes, real KV files.
 * @module
 */
import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import {
  type Daemon,
  DATA_DIR_ENV,
  DENO,
  fixtureCommand,
  FIXTURES,
  type InstanceJson,
  isAlive,
  leftoverGroups,
  sleep,
  startDaemon,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

/** The well-behaved fixture with a health path. */
const OK_APP = { fixture: "ok_server.py", health: "/health" } as const;

function pidOf(body: string): number {
  return JSON.parse(body).pid as number;
}

Deno.test("a sleeping instance is woken by a request and answers from a new pid", async () => {
  await using ten = await startDaemon({
    config: { services: { app: { ...OK_APP, idle_timeout: 1 } } },
  });
  const first = await ten.request("alice.app.localhost", "/");
  equal(first.status, 200);
  const pid1 = pidOf(first.body);
  await ten.untilStatus("app:alice", "asleep", {
    what: "alice to fall asleep",
  });
  ok(!await isAlive(pid1), "the idle process is gone");
  const second = await ten.request("alice.app.localhost", "/");
  equal(second.status, 200);
  notEqual(pidOf(second.body), pid1);
});

Deno.test("an instance with a request in flight is not stopped for idleness", async () => {
  await using ten = await startDaemon({
    config: { services: { app: { ...OK_APP, idle_timeout: 1 } } },
  });
  // A 2.5 s response outlasts the 1 s idle timeout; the instance must survive it.
  const slow = await ten.request("alice.app.localhost", "/slow?ms=2500");
  equal(slow.status, 200);
  const row = await ten.instance("app:alice");
  equal(row?.status, "running");
});

Deno.test("health checks do not count as activity", async () => {
  await using ten = await startDaemon({
    config: { services: { app: { ...OK_APP, idle_timeout: 2 } }, instances: { app: ["alice"] } },
  });
  await ten.running("app:alice");
  // Health is probed every second; the instance still falls asleep after 2 s without requests.
  await ten.untilStatus("app:alice", "asleep", {
    timeoutMs: 8_000,
    what: "idle stop despite health checks",
  });
});

Deno.test("kill -9 of an app: the next request is answered by the restarted app", async () => {
  await using ten = await startDaemon({
    config: { services: { app: OK_APP } },
  });
  const pid1 = pidOf((await ten.request("alice.app.localhost", "/")).body);
  Deno.kill(pid1, "SIGKILL");
  const res = await ten.request("alice.app.localhost", "/");
  equal(res.status, 200);
  notEqual(pidOf(res.body), pid1);
  const row = await ten.instance("app:alice");
  equal(row?.restarts, 1);
});

Deno.test("a crash is noticed at once, not by health polling", async () => {
  await using ten = await startDaemon({
    config: {
      settings: { health_check_interval: 60 },
      services: { app: OK_APP },
      instances: { app: ["alice"] },
    },
  });
  const row = await ten.running("app:alice");
  Deno.kill(row.pid!, "SIGKILL");
  // With a 60 s health interval, only exit detection can bring it back this fast.
  const back = await ten.untilInstance(
    "app:alice",
    (r) => r.status === "running" && r.pid !== row.pid,
    { timeoutMs: 5_000, what: "restart after SIGKILL" },
  );
  equal(back.restarts, 1);
});

Deno.test("a crash loop ends in failed with the exit code and last stderr line", async () => {
  await using ten = await startDaemon({
    config: {
      // A failed instance is retried after backoff_max_ms: long enough that `ps` sees it failed.
      settings: { max_restarts: 2, restart_window: 60, backoff_max_ms: 60_000 },
      services: { bad: { fixture: "crash_on_start.py", health: "/health", startup_timeout: 2 } },
      // Started with the daemon: an explicit spawn that crashes at start-up is stopped instead.
      instances: { bad: ["x"] },
    },
  });
  const row = await ten.untilStatus("bad:x", "failed", { timeoutMs: 10_000, what: "failed state" });
  equal(row.health, "failed");
  match(row.reason ?? "", /exited with code 3/);
  match(row.reason ?? "", /cannot open database/);
  match(row.reason ?? "", /more than 2 restarts/);
  const ps = await ten.ten(["ps", "--all"]);
  equal(ps.code, 0, ps.stderr);
  match(ps.stdout, /bad:x .*failed .*exited with code 3/);
  // A failed instance answers 503 rather than hanging.
  const res = await ten.request("x.bad.localhost", "/");
  equal(res.status, 503);
  ok(res.headers.get("retry-after"));
});

Deno.test("ten restart clears a failed instance", async () => {
  await using tmp = await tempDir();
  const flag = `${tmp.path}/fail`;
  await Deno.writeTextFile(flag, "");
  await using ten = await startDaemon({
    dir: tmp.path,

    config: {
      settings: { max_restarts: 1, restart_window: 60 },
      services: {
        app: {
          command: "sh",
          args: [
            "-c",
            `if [ -e ${flag} ]; then echo broken >&2; exit 4; fi; exec ${
              fixtureCommand("ok_server.py")
            }`,
          ],
          health: "/health",
          startup_timeout: 2,
        },
      },
      instances: { app: ["alice"] },
    },
  });
  await ten.untilStatus("app:alice", "failed", {
    timeoutMs: 10_000,
    what: "failed state",
  });
  await Deno.remove(flag);
  const res = await ten.ten(["restart", "app:alice"]);
  equal(res.code, 0, res.stderr);
  equal(res.stdout.trim(), "Restarted app:alice");
  const row = await ten.running("app:alice");
  equal(row.health, "healthy");
  equal(row.reason, null);
});

Deno.test("restart policies: never, on-failure and always", async (t) => {
  await using ten = await startDaemon({
    config: {
      services: {
        never: { fixture: "crash_after.py", restart: "never", env: { CRASH_AFTER_MS: "300" } },
        clean: { fixture: "exit_zero.py", restart: "on-failure" },
        always: { fixture: "exit_zero.py", restart: "always" },
      },
      instances: { never: ["a"], clean: ["a"], always: ["a"] },
    },
  });
  await t.step("never: stays stopped after a crash, with the reason", async () => {
    const row = await ten.untilInstance(
      "never:a",
      (r) => r.status === "stopped" && r.reason !== null,
    );
    match(row.reason ?? "", /exited with code 7/);
    equal(row.restarts, 0);
  });
  await t.step("on-failure: a clean exit is not restarted", async () => {
    const row = await ten.untilInstance("clean:a", (r) => r.status === "stopped");
    match(row.reason ?? "", /exited with code 0/);
    equal(row.restarts, 0);
  });
  await t.step("always: a clean exit is restarted", async () => {
    await ten.untilInstance("always:a", (r) => r.restarts >= 2, {
      what: "restarts of always:a",
    });
  });
});

Deno.test("restarts back off exponentially", async () => {
  await using ten = await startDaemon({
    config: {
      settings: { max_restarts: 10, backoff_base_ms: 200, backoff_max_ms: 5000 },
      services: { app: { fixture: "exit_zero.py", restart: "always" } },
      instances: { app: ["a"] },
    },
  });
  await ten.untilInstance("app:a", (r) => r.restarts >= 4, {
    timeoutMs: 15_000,
  });
  const logs = await ten.api("GET", "/api/logs?process=app&id=a&search=exited%20unexpectedly");
  const times = (JSON.parse(logs.body) as Array<{ timestamp: number }>).map((e) => e.timestamp);
  ok(times.length >= 4, `at least 4 exits logged, got ${times.length}`);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  // Delays 0, 200, 400, 800 ms (±20 % jitter) plus start-up time: each gap beyond the first
  // restart is clearly longer than the one before.
  ok(gaps[2]! > gaps[1]! && gaps[1]! > 150, `gaps grow: ${gaps.join(", ")}`);
});

Deno.test("a service without health stays up and is judged by liveness", async () => {
  await using ten = await startDaemon({
    config: { services: { plain: { fixture: "no_health.py" } }, instances: { plain: ["a"] } },
  });
  const row = await ten.running("plain:a");
  equal(row.health, "healthy");
  // Several health intervals later: same process, no restarts.
  await sleep(3_500);
  const later = await ten.instance("plain:a");
  equal(later?.pid, row.pid);
  equal(later?.restarts, 0);
  equal(later?.health, "healthy");
});

Deno.test("an instance failing its health check 3 times is restarted", async () => {
  await using ten = await startDaemon({
    config: {
      services: { app: { fixture: "health_flaky.py", health: "/health", env: DATA_DIR_ENV } },
      instances: { app: ["a"] },
    },
  });
  const row = await ten.running("app:a");
  await Deno.writeTextFile(`${ten.dataDir}/app/a/make-unhealthy`, "");
  await ten.untilInstance("app:a", (r) => r.health === "degraded", { what: "degraded" });
  const restarted = await ten.untilInstance("app:a", (r) => r.pid !== null && r.pid !== row.pid, {
    timeoutMs: 10_000,
    what: "restart after 3 failed checks",
  });
  ok(restarted.restarts >= 1);
});

Deno.test("a 500 whose body says 200 OK is unhealthy", async () => {
  await using ten = await startDaemon({
    config: {
      services: { app: { fixture: "unhealthy.py", health: "/health", startup_timeout: 1 } },
      instances: { app: ["a"] },
    },
  });
  const res = await ten.api("GET", "/api/instances/app:a/health");
  equal(res.status, 200);
  notEqual(JSON.parse(res.body).health, "healthy");
});

Deno.test("stop sends SIGTERM and waits for a graceful exit", async () => {
  await using ten = await startDaemon({
    config: {
      services: {
        app: { fixture: "sigterm_slow.py", env: { SHUTDOWN_MS: "400" }, stop_grace_period: 5 },
      },
      instances: { app: ["a"] },
    },
  });
  await ten.running("app:a");
  const res = await ten.api("DELETE", "/api/instances/app:a");
  equal(res.status, 204);
  const logs = await ten.api("GET", "/api/logs?process=app&id=a");
  const messages = (JSON.parse(logs.body) as Array<{ message: string }>).map((e) => e.message);
  ok(messages.includes("shutting down"), messages.join("|"));
  ok(
    messages.includes("shutdown complete"),
    "the app finished its shutdown before the stop returned",
  );
});

Deno.test("an app ignoring SIGTERM is killed after the grace period, with its whole group", async () => {
  await using ten = await startDaemon({
    config: {
      services: {
        stubborn: { fixture: "ignore_sigterm.py", stop_grace_period: 1 },

        family: {
          fixture: "spawns_child.sh",
          health: "/health",
          env: DATA_DIR_ENV,
          stop_grace_period: 1,
        },
      },
      instances: { stubborn: ["a"], family: ["a"] },
    },
  });
  const stubborn = await ten.running("stubborn:a");
  const family = await ten.running("family:a");
  const grandchild = Number(await Deno.readTextFile(`${ten.dataDir}/family/a/child.pid`));
  ok(await isAlive(grandchild));
  const started = Date.now();
  equal((await ten.api("DELETE", "/api/instances/stubborn:a")).status, 204);
  const took = Date.now() - started;
  ok(took >= 900, `waited for the grace period (${took} ms)`);
  deepEqual(await leftoverGroups([stubborn.pid!]), []);
  equal((await ten.api("DELETE", "/api/instances/family:a")).status, 204);
  deepEqual(await leftoverGroups([family.pid!]), []);
  ok(!await isAlive(grandchild), "the grandchild died with its group");
});

/** A daemon running `stubborn:a`, an app that ignores SIGTERM, with `graceSecs` to stop. */
function startStubborn(graceSecs: number): Promise<Daemon> {
  return startDaemon({
    config: {
      services: { stubborn: { fixture: "ignore_sigterm.py", stop_grace_period: graceSecs } },
      instances: { stubborn: ["a"] },
    },
  });
}

Deno.test("a stop signal delivered twice at once is one graceful stop", async () => {
  await using ten = await startStubborn(2);
  const stubborn = await ten.running("stubborn:a");
  const started = Date.now();
  // What `make` or a process manager does when the whole group gets SIGTERM and it forwards it.
  ten.signal("SIGTERM");
  ten.signal("SIGTERM");
  equal(await ten.exited(), 0, ten.stderr);
  const took = Date.now() - started;
  ok(took >= 1_800, `the instance got its grace period (${took} ms)`);
  deepEqual(await leftoverGroups([stubborn.pid!]), []);
  ok(!ten.stderr.includes("Second signal"), ten.stderr);
});

Deno.test("a second Ctrl-C later exits at once and takes the instances along", async () => {
  await using ten = await startStubborn(20);
  const stubborn = await ten.running("stubborn:a");
  ten.signal("SIGINT");
  await sleep(1_300);
  const started = Date.now();
  ten.signal("SIGINT");
  equal(await ten.exited(), 130, ten.stderr);
  ok(Date.now() - started < 5_000, "did not wait for the 20 s grace period");
  match(ten.stderr, /Second signal: killed 1 instance process groups/);
  await waitFor(async () => (await leftoverGroups([stubborn.pid!])).length === 0);
});

Deno.test("kill -9 of the daemon: restart kills orphans and brings awake instances back", async () => {
  await using ten = await startDaemon({
    config: {
      services: {
        app: {
          fixture: "spawns_child.sh",
          health: "/health",
          env: DATA_DIR_ENV,
          idle_timeout: 3600,
        },
      },
      instances: { app: ["cfg"] },
    },
  });
  equal((await ten.request("woken.app.localhost", "/")).status, 200);
  equal((await ten.api("POST", "/api/instances/spawn", { process: "app", id: "api" })).status, 200);
  equal(
    (await ten.api("POST", "/api/instances/spawn", { process: "app", id: "sleepy" })).status,
    200,
  );
  equal((await ten.api("DELETE", "/api/instances/app:sleepy")).status, 204);
  const threeRunning = (rows: readonly InstanceJson[]): boolean =>
    rows.filter((r) => r.status === "running").length === 3;
  const before = await ten.untilInstances(threeRunning);
  const oldPids = before.filter((r) => r.pid !== null).map((r) => r.pid!);
  const grandchildren = await Promise.all(
    ["cfg", "woken", "api"].map(async (id) =>
      Number(await Deno.readTextFile(`${ten.dataDir}/app/${id}/child.pid`))
    ),
  );

  await ten.kill9();
  for (const pid of oldPids) ok(await isAlive(pid), "instances outlive a kill -9 of the daemon");

  await ten.start();
  const after = await ten.untilInstances(threeRunning, {
    timeoutMs: 15_000,
    what: "awake instances back",
  });
  deepEqual(await leftoverGroups(oldPids), [], "old process groups were killed");
  for (const pid of grandchildren) ok(!await isAlive(pid), `grandchild ${pid} was killed`);
  const running = after.filter((r) => r.status === "running");
  deepEqual(running.map((r) => r.id).sort(), ["app:api", "app:cfg", "app:woken"]);
  const ports = running.map((r) => r.port);
  equal(new Set(ports).size, ports.length, "no duplicate ports");
  equal(after.find((r) => r.id === "app:sleepy")?.status, "stopped");
  for (const r of running) ok(!oldPids.includes(r.pid!), "new processes");
  const res = await ten.request("woken.app.localhost", "/");
  equal(res.status, 200);
});

Deno.test("ten serve stops instances on SIGTERM and they come back on the next start", async () => {
  await using ten = await startDaemon({
    config: { services: { app: { ...OK_APP, idle_timeout: 1 } } },
  });
  equal((await ten.api("POST", "/api/instances/spawn", { process: "app", id: "a" })).status, 200);
  equal((await ten.request("b.app.localhost", "/")).status, 200);
  await ten.untilStatus("app:b", "asleep");
  await ten.untilStatus("app:a", "asleep");
  equal((await ten.request("a.app.localhost", "/")).status, 200);
  const pids = (await ten.instances()).filter((r) => r.pid !== null).map((r) => r.pid!);
  equal(await ten.stop(), 0);
  deepEqual(await leftoverGroups(pids), []);
  await ten.start();
  const rows = await ten.untilInstances((r) =>
    r.find((x) => x.id === "app:a")?.status === "running"
  );
  equal(rows.find((x) => x.id === "app:b")?.status, "asleep", "asleep stays asleep");
});

Deno.test("isolation modes not built yet refuse to start with a message, never run unisolated", async () => {
  await using ten = await startDaemon({
    config: { services: { boxed: { fixture: "ok_server.py", isolation: "litebox" } } },
  });
  const res = await ten.api("POST", "/api/instances/spawn", { process: "boxed", id: "a" });
  ok(res.status >= 400, `status ${res.status}`);
  match(JSON.parse(res.body).error, /isolation = "litebox"/);
  const row = await ten.instance("boxed:a");
  equal(row?.pid, null, "no process was started");
  equal((await ten.request("a.boxed.localhost", "/")).status, 503);
});

Deno.test("storage_persist = false: data survives sleep but not an explicit stop", async () => {
  await using ten = await startDaemon({
    config: {
      services: {
        app: {
          fixture: "ok_server.py",
          health: "/health",
          idle_timeout: 1,
          storage_persist: false,
          env: DATA_DIR_ENV,
        },
      },
    },
  });
  equal((await ten.request("a.app.localhost", "/")).status, 200);
  const dir = `${ten.dataDir}/app/a`;
  await Deno.writeTextFile(`${dir}/keep.txt`, "x");
  await ten.untilStatus("app:a", "asleep");
  equal(await Deno.readTextFile(`${dir}/keep.txt`), "x", "sleeping keeps the data");
  equal((await ten.request("a.app.localhost", "/")).status, 200);
  equal((await ten.api("DELETE", "/api/instances/app:a")).status, 204);
  await Deno.stat(dir).then(
    () => ok(false, "the data dir should be gone after ten stop"),
    (err) => ok(err instanceof Deno.errors.NotFound),
  );
});

Deno.test("requests waiting for a wake are bounded by max_queued_requests", async () => {
  await using ten = await startDaemon({
    config: {
      services: {
        app: {
          fixture: "slow_start.py",
          health: "/health",
          max_queued_requests: 5,
          env: { START_DELAY_MS: "1500" },
        },
      },
    },
  });
  const results = await Promise.all(
    Array.from({ length: 10 }, () => ten.request("a.app.localhost", "/")),
  );
  const statuses = results.map((r) => r.status).sort();
  deepEqual(statuses, [200, 200, 200, 200, 200, 503, 503, 503, 503, 503]);
  ok(results.filter((r) => r.status === 503).every((r) => r.headers.get("retry-after")));
});

Deno.test("a WebSocket wakes its instance and keeps it awake past idle_timeout", async () => {
  // A WebSocket client cannot set Host and *.localhost does not resolve here: with the domain
  // "0.1", the host 127.0.0.1 is the direct route to instance "127" of service "0".
  await using ten = await startDaemon({
    domain: "0.1",

    config: {
      services: {
        "0": {
          command: `${DENO} run -A ${FIXTURES}/ws_echo.ts`,
          health: "/health",
          idle_timeout: 1,
        },
      },
    },
  });
  const ws = new WebSocket(`ws://127.0.0.1:${ten.port}/ws`);
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const row = await ten.instance("0:127");
    equal(row?.status, "running", "the upgrade woke the instance");
    // Twice the idle timeout with the socket open but quiet: still running.
    await sleep(2_500);
    equal((await ten.instance("0:127"))?.pid, row?.pid);
    const reply = new Promise<MessageEvent>((resolve) => ws.onmessage = resolve);
    ws.send("still there?");
    equal((await reply).data, "still there?");
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.send("close:4001");
    equal((await closed).code, 4001);
  } finally {
    ws.close();
  }
  await ten.untilStatus("0:127", "asleep", {
    what: "idle stop once the WebSocket closed",
  });
});
