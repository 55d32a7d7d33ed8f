/**
 * Instances with limits on fakes (`testing/fakes.ts`): the cgroup is made before the launch and
 * handed to it, an OOM kill is reported (reason, log event, metric) and restarted per policy,
 * the cgroup goes with the run, and a cgroup that cannot be made fails the spawn.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { SpawnError } from "../core/errors.ts";
import { createTestSupervisor } from "./testing/fakes.ts";

const A = { service: "app", id: "a" };
const LIMITED = `
backoff_base_ms = 100
[service.app]
command = "app {id}"
memory_limit_mb = 64
pids_limit = 20
`;

Deno.test("a run with limits joins its cgroup at launch; one without limits has none", async () => {
  await using t = createTestSupervisor(`${LIMITED}
[service.plain]
command = "plain {id}"
`);
  await t.supervisor.spawn(A);
  deepEqual(t.launcher.last("a").spec.cgroupProcs, ["/cgroup/tenement/app.a/cgroup.procs"]);
  await t.supervisor.spawn({ service: "plain", id: "b" });
  equal(t.launcher.last("b").spec.cgroupProcs, undefined);
  equal(t.cgroups.created.length, 1);
  await t.supervisor.stop(A);
  ok(t.cgroups.created[0]!.isDestroyed, "the cgroup is removed with the stopped run");
});

Deno.test("an OOM-killed run reads 'out of memory', is logged and counted, and is restarted", async () => {
  await using t = createTestSupervisor(LIMITED);
  const { supervisor, launcher, clock, cgroups } = t;
  await supervisor.spawn(A);
  await clock.advance(15_000); // past its start-up: the restart policy applies
  cgroups.created[0]!.oomKillCount = 1;
  launcher.last("a").exit({ code: null, signal: "SIGKILL" });
  await clock.settle();
  equal(supervisor.get(A)?.reason, "out of memory (memory_limit_mb = 64)");
  equal(t.metrics.oomKills, 1);
  ok(
    t.logs.lines.some((line) =>
      line.startsWith("app:a event tenement: out of memory") &&
      line.includes("memory_limit_mb = 64")
    ),
    t.logs.lines.join("\n"),
  );
  ok(cgroups.created[0]!.isDestroyed, "the ended run's cgroup is removed");
  await clock.advance(1_000);
  equal(launcher.count("a"), 2);
  equal(cgroups.created.length, 2, "the restarted run gets a fresh cgroup");
});

Deno.test("a SIGKILL without an OOM kill in the cgroup is a plain kill", async () => {
  await using t = createTestSupervisor(LIMITED);
  await t.supervisor.spawn(A);
  await t.clock.advance(15_000);
  t.launcher.last("a").exit({ code: null, signal: "SIGKILL" });
  await t.clock.settle();
  equal(t.supervisor.get(A)?.reason, "killed by SIGKILL");
  equal(t.metrics.oomKills, 0);
});

Deno.test("a cgroup that cannot be made fails the spawn and nothing runs", async () => {
  await using t = createTestSupervisor(LIMITED);
  t.cgroups.failWith = 'Cannot apply the limits of "app:a": no cgroup file system at /nowhere';
  await rejects(t.supervisor.spawn(A), (err: unknown) => {
    ok(err instanceof SpawnError);
    ok(err.message.includes("no cgroup file system at /nowhere"), err.message);
    return true;
  });
  equal(t.launcher.count("a"), 0);
  equal(t.supervisor.get(A)?.status, "stopped");
});

Deno.test("start removes leftover cgroups of the stored instances", async () => {
  await using first = createTestSupervisor(LIMITED);
  await first.supervisor.spawn(A);
  await first.clock.settle();
  await using t = createTestSupervisor(LIMITED, { repo: first.repo });
  await t.supervisor.start();
  deepEqual(t.cgroups.leftoversRemovedFor, ["app:a"]);
});
