/**
 * Disabling and enabling instances on fakes (`testing/fakes.ts`): what stops, what is refused,
 * what a daemon restart keeps, and the wake after enable.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ConflictError, InstanceDisabledError, NotFoundError } from "../core/errors.ts";
import { createTestSupervisor, type TestSupervisor } from "./testing/fakes.ts";

const NEVER_ABORTED = new AbortController().signal;
const A = { service: "app", id: "a" };
const TOML = `
[service.app]
command = "app {id}"
storage_persist = false

[instances]
app = ["a", "b"]
`;

async function started(options: Parameters<typeof createTestSupervisor>[1] = {}): Promise<
  TestSupervisor
> {
  const t = createTestSupervisor(TOML, options);
  await t.supervisor.start();
  await t.clock.settle();
  return t;
}

Deno.test("disable stops a running instance, keeps its data, and refuses wakes and starts", async () => {
  await using t = await started();
  const { supervisor, launcher, files, repo } = t;
  equal(supervisor.get(A)?.status, "running");
  const process = launcher.last("a");

  const result = await supervisor.disable(A);
  equal(result.isChanged, true);
  ok(!process.isAlive, "the process was stopped");
  deepEqual(files.removedDirs, [], "disabling is not deleting, whatever storage_persist says");
  equal(supervisor.get(A)?.isDisabled, true);
  equal(supervisor.get(A)?.reason, "disabled by the operator");
  equal(repo.instances.get("app:a")?.isDisabled, true, "stored");

  equal((await supervisor.disable(A)).isChanged, false, "idempotent");
  await rejects(supervisor.resolveDirect("app", "a", NEVER_ABORTED), InstanceDisabledError);
  const message = "app:a is disabled; ten enable app:a first";
  await rejects(supervisor.spawn(A), new ConflictError(message));
  await rejects(supervisor.spawn(A, "request"), new ConflictError(message));
  await rejects(supervisor.restart(A), new ConflictError(message));
  await rejects(supervisor.deploy(A, { weight: 100, timeoutMs: 1000 }), new ConflictError(message));
  equal(launcher.count("a"), 1, "nothing started it again");
  await rejects(supervisor.disable({ service: "app", id: "nope" }), NotFoundError);
});

Deno.test("a disabled instance stays disabled across a daemon restart; enable lets a request wake it", async () => {
  const first = await started();
  await first.supervisor.disable(A);
  await first[Symbol.asyncDispose]();

  await using t = await started({ repo: first.repo });
  const { supervisor, launcher } = t;
  equal(supervisor.get(A)?.isDisabled, true);
  equal(launcher.count("a"), 0, "[instances] did not start it");
  equal(supervisor.get({ service: "app", id: "b" })?.status, "running");

  const enabled = await supervisor.enable(A);
  equal(enabled.isChanged, true);
  equal(enabled.instance.status, "stopped", "enable does not start it");
  equal(enabled.instance.reason, undefined);
  equal(launcher.count("a"), 0);
  equal((await supervisor.enable(A)).isChanged, false, "idempotent");

  const waking = supervisor.resolveDirect("app", "a", NEVER_ABORTED);
  await t.clock.settle();
  const target = await waking;
  equal(target.id, "a");
  equal(launcher.count("a"), 1);
});

Deno.test("the weighted route skips a disabled instance", async () => {
  await using t = await started();
  const { supervisor } = t;
  await supervisor.disable(A);
  for (let i = 0; i < 5; i++) {
    equal((await supervisor.resolveWeighted("app", NEVER_ABORTED)).id, "b");
  }
});
