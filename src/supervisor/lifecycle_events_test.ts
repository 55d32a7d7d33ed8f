/**
 * Lifecycle events reach the instance's log as `event` lines ("tenement: …"), so `ten logs`
 * shows what happened to an instance next to its own output.
 */
import { deepEqual } from "node:assert/strict";
import { createTestSupervisor } from "./testing/fakes.ts";

const A = { service: "app", id: "a" };

Deno.test("spawn, ready, crash, restart, weight, disable and stop are logged as event lines", async () => {
  await using t = createTestSupervisor(`
backoff_base_ms = 100
[service.app]
command = "app {id}"
restart = "always"
`);
  const { supervisor, clock, launcher, logs } = t;
  await supervisor.spawn(A);
  launcher.last("a").exit({ code: 3, signal: null });
  await clock.settle();
  await clock.advance(100);
  await clock.settle();
  await supervisor.setWeight(A, 40);
  await supervisor.disable(A);
  await supervisor.enable(A);
  const events = logs.lines
    .filter((line) => line.startsWith("app:a event "))
    .map((line) => line.slice("app:a event ".length).replace(/pid \d+, port \d+/, "pid P, port N"));
  deepEqual(events.map((line) => line.replace(/ \(pid \d+\).*/, " (pid P)…")), [
    "tenement: spawned (pid P, port N)",
    "tenement: ready in 0 ms",
    "tenement: exited unexpectedly (pid P)…",
    "tenement: restarting in 0 ms",
    "tenement: spawned (pid P, port N)",
    "tenement: ready in 0 ms",
    "tenement: weight 100 -> 40",
    "tenement: stopped: disabled by the operator",
    "tenement: disabled",
    "tenement: enabled",
  ]);
});
