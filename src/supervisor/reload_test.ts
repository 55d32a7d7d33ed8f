/**
 * Config reload and forgetting instances, on fakes (`testing/fakes.ts`): what a reload puts in
 * force for later starts, what it leaves running, and what `forget` removes.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { parseConfig } from "../config/parse_config.ts";
import type { Config } from "../config/schema.ts";
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { createTestSupervisor } from "./testing/fakes.ts";

const A = { service: "app", id: "a" };
const NEVER_ABORTED = new AbortController().signal;

/** A config as `createTestSupervisor` parses it (data dir `/data`). */
function configOf(toml: string, settings = ""): Config {
  return parseConfig(`[settings]\ndata_dir = "/data"\n${settings}${toml}`, {
    path: "/srv/tenement.toml",
  });
}

const V1 = `
[service.app]
command = "app {id}"
env = { VERSION = "1" }
`;
const V2 = `
[service.app]
command = "app --new {id}"
env = { VERSION = "2" }
`;

Deno.test("after a reload, ten restart runs the new command and env", async () => {
  await using t = createTestSupervisor(V1);
  const { supervisor, launcher } = t;
  await supervisor.spawn(A);
  deepEqual(launcher.last("a").spec.argv, ["app", "a"]);

  const report = supervisor.reload(configOf(V2));
  deepEqual(report.changed, [{ service: "app", keys: ["command", "env"] }]);
  deepEqual(report.outdated, [{ instance: "app:a", isServiceRemoved: false }]);
  equal(launcher.last("a").isAlive, true, "a reload leaves running instances alone");

  await supervisor.restart(A);
  const process = launcher.last("a");
  deepEqual(process.spec.argv, ["app", "--new", "a"]);
  equal(process.spec.env["VERSION"], "2");
  deepEqual(supervisor.reload(configOf(V2)).outdated, [], "it runs the new definition now");
});

Deno.test("a reload applies to wakes, spawns and request-created instances", async () => {
  await using t = createTestSupervisor(V1);
  const { supervisor, launcher } = t;
  await supervisor.spawn(A);
  await supervisor.stop(A);
  supervisor.reload(configOf(`${V2}\n[service.blog]\ncommand = "blog {id}"\n`));

  await supervisor.resolveDirect("app", "a", NEVER_ABORTED);
  equal(launcher.last("a").spec.env["VERSION"], "2", "the wake starts the new definition");
  await supervisor.resolveDirect("app", "b", NEVER_ABORTED);
  equal(launcher.last("b").spec.env["VERSION"], "2", "a request-created instance too");
  await supervisor.resolveDirect("blog", "x", NEVER_ABORTED);
  deepEqual(launcher.last("x").spec.argv, ["blog", "x"], "a new service is routable");
});

Deno.test("a removed service's running instance keeps running; nothing of it starts again", async () => {
  await using t = createTestSupervisor(`${V1}\n[service.old]\ncommand = "old {id}"\n`);
  const { supervisor, launcher, clock } = t;
  await supervisor.spawn({ service: "old", id: "x" });
  const report = supervisor.reload(configOf(V1));
  deepEqual([report.removed, report.outdated], [["old"], [
    { instance: "old:x", isServiceRemoved: true },
  ]]);
  equal(launcher.last("x").isAlive, true);
  const target = await supervisor.resolveDirect("old", "x", NEVER_ABORTED);
  equal(target.port, launcher.last("x").port, "it still serves until stopped");
  await rejects(supervisor.spawn({ service: "old", id: "y" }), NotFoundError);
  await rejects(supervisor.restart({ service: "old", id: "x" }), NotFoundError);

  // It crashes: not restarted, since its service is gone.
  launcher.last("x").exit({ code: 1, signal: null });
  await clock.advance(10_000);
  equal(launcher.count("x"), 1);
  equal(supervisor.get({ service: "old", id: "x" })?.status, "stopped");
  await rejects(supervisor.resolveDirect("old", "x", NEVER_ABORTED), NotFoundError);
});

Deno.test("settings read at daemon start are reported and keep their running values", async () => {
  await using t = createTestSupervisor(V1);
  const { supervisor } = t;
  const next = parseConfig(
    `[settings]\ndata_dir = "/elsewhere"\nport_range_start = 31000\nmax_restarts = 9\n${V1}`,
    { path: "/srv/tenement.toml" },
  );
  const report = supervisor.reload(next);
  deepEqual(report.needsRestart, ["settings.data_dir", "settings.port_range_start"]);
  deepEqual(report.settings, ["settings.max_restarts"]);
  equal(supervisor.config.settings.dataDir, "/data");
  equal(supervisor.config.settings.portRangeStart, 30000);
  equal(supervisor.config.settings.maxRestarts, 9);
  equal(report.outdated.length, 0);
});

Deno.test("a reloaded idle_timeout applies to running instances at once", async () => {
  await using t = createTestSupervisor(V1);
  const { supervisor, clock } = t;
  await supervisor.start();
  await supervisor.spawn(A);
  await clock.advance(5_000);
  equal(supervisor.get(A)?.status, "running");
  const report = supervisor.reload(configOf(`${V1}idle_timeout = 2\n`));
  deepEqual(report.outdated, [], "idle_timeout does not change how an instance starts");
  await clock.advance(2_000);
  equal(supervisor.get(A)?.status, "asleep");
});

Deno.test("forget: refuses running instances, removes stopped ones from memory and store", async () => {
  await using t = createTestSupervisor(V1);
  const { supervisor, repo, files } = t;
  await supervisor.spawn(A);
  await supervisor.setWeight(A, 30);
  await rejects(
    supervisor.forget(A, { purge: false, dryRun: false }),
    (err: unknown) =>
      err instanceof ConflictError && err.message === "app:a is running: ten stop app:a first",
  );
  await supervisor.stop(A);
  ok(repo.instances.has("app:a") && repo.weights.has("app:a"));
  files.present.add("/data/app/a");

  const dry = await supervisor.forget(A, { purge: true, dryRun: true });
  deepEqual(dry, { key: "app:a", dataDir: "/data/app/a", isPurged: true, hadDataDir: true });
  ok(supervisor.get(A) !== undefined, "a dry run changes nothing");

  await supervisor.forget(A, { purge: true, dryRun: false });
  equal(supervisor.get(A), undefined);
  equal(supervisor.list({ all: true }).length, 0);
  equal(repo.instances.has("app:a"), false);
  equal(repo.weights.has("app:a"), false);
  // The purge takes its socket dir along (default socket template).
  deepEqual(files.removedDirs, ["/data/app/a", "/data/run/app.a"]);
  await rejects(supervisor.forget(A, { purge: false, dryRun: false }), NotFoundError);
});

Deno.test("forget: a failed instance is forgotten and never retried; an unknown one is not found", async () => {
  await using t = createTestSupervisor(`
max_restarts = 0
backoff_max_ms = 1000
${V1}restart = "always"
`);
  const { supervisor, launcher, clock, repo, files } = t;
  await supervisor.spawn(A);
  launcher.last("a").exit({ code: 1, signal: null });
  await clock.settle();
  equal(supervisor.get(A)?.status, "failed");
  await supervisor.forget(A, { purge: false, dryRun: false });
  await clock.advance(5_000);
  equal(launcher.count("a"), 1, "the failed instance's retry was dropped");
  equal(repo.instances.has("app:a"), false);
  deepEqual(files.removedDirs, []);
  await rejects(
    supervisor.forget({ service: "app", id: "zz" }, { purge: false, dryRun: false }),
    NotFoundError,
  );
});
