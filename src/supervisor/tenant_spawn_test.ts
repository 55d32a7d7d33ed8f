/**
 * What a tenant token may start (origin "request": the service's auto-create rules, weight 0) and
 * `shared_route = false`, on the supervisor's fakes.
 */
import { deepEqual, equal, rejects } from "node:assert/strict";
import { ForbiddenError, NotFoundError, UnavailableError } from "../core/errors.ts";
import { createTestSupervisor } from "./testing/fakes.ts";

const NEVER_ABORTED = new AbortController().signal;
const APP = `
[service.app]
command = "app {id}"
`;

Deno.test("a tenant's spawn obeys auto_create, its allow list and its limits", async (t) => {
  await t.step("auto_create = false: refused, nothing started", async () => {
    await using s = createTestSupervisor(`${APP}auto_create = false\n`);
    await rejects(s.supervisor.spawn({ service: "app", id: "alice" }, "request"), ForbiddenError);
    equal(s.supervisor.get({ service: "app", id: "alice" }), undefined);
    equal(s.launcher.processes.length, 0);
  });

  await t.step("off the allow list: refused; on it: weight 0, origin request", async () => {
    await using s = createTestSupervisor(`${APP}auto_create_allow = ["alice"]\n`);
    await rejects(s.supervisor.spawn({ service: "app", id: "mallory" }, "request"), (err) => {
      equal(
        (err as Error).message,
        'Cannot create app:mallory: "app" does not let tenants create it (auto_create_allow)',
      );
      return err instanceof ForbiddenError;
    });
    const alice = await s.supervisor.spawn({ service: "app", id: "alice" }, "request");
    deepEqual([alice.status, alice.weight, alice.origin], ["running", 0, "request"]);
  });

  await t.step("auto_create_limit and auto_create_per_minute count tenant spawns", async () => {
    await using s = createTestSupervisor(
      `${APP}auto_create_limit = 2\nauto_create_per_minute = 1\n`,
    );
    const { supervisor, clock } = s;
    await supervisor.spawn({ service: "app", id: "t1" }, "request");
    await rejects(supervisor.spawn({ service: "app", id: "t2" }, "request"), UnavailableError);
    await clock.advance(60_000);
    // A request-created instance counts towards the same limit.
    await supervisor.resolveDirect("app", "t2", NEVER_ABORTED);
    await clock.advance(60_000);
    await rejects(supervisor.spawn({ service: "app", id: "t3" }, "request"), ForbiddenError);
    equal(s.launcher.processes.length, 2);
  });

  await t.step("an instance that exists passes, whatever the rules", async () => {
    await using s = createTestSupervisor(
      `${APP}auto_create = false\n[instances]\napp = ["alice"]\n`,
    );
    await s.supervisor.start();
    await s.clock.settle();
    const alice = await s.supervisor.spawn({ service: "app", id: "alice" }, "request");
    deepEqual([alice.status, alice.weight], ["running", 100]);
    const restarted = await s.supervisor.restart({ service: "app", id: "alice" }, "request");
    equal(restarted.status, "running");
  });

  await t.step(
    "a tenant's restart of an unknown instance is a spawn under the same rules",
    async () => {
      await using s = createTestSupervisor(`${APP}auto_create = false\n`);
      await rejects(
        s.supervisor.restart({ service: "app", id: "alice" }, "request"),
        ForbiddenError,
      );
      equal(s.supervisor.get({ service: "app", id: "alice" }), undefined);
    },
  );
});

Deno.test("a tenant-started instance keeps weight 0 across a daemon restart", async () => {
  const toml = `${APP}`;
  const before = createTestSupervisor(toml);
  await before.supervisor.start();
  await before.supervisor.spawn({ service: "app", id: "alice" }, "request");
  await before[Symbol.asyncDispose]();
  await using after = createTestSupervisor(toml, { repo: before.repo });
  await after.supervisor.start();
  await after.clock.settle();
  const alice = after.supervisor.get({ service: "app", id: "alice" });
  deepEqual([alice?.weight, alice?.origin], [0, "request"]);
});

Deno.test("shared_route = false: the shared route is 404, direct routes work", async () => {
  await using s = createTestSupervisor(`${APP}shared_route = false\n[instances]\napp = ["a"]\n`);
  await s.supervisor.start();
  await s.clock.settle();
  await rejects(s.supervisor.resolveWeighted("app", NEVER_ABORTED), NotFoundError);
  const direct = await s.supervisor.resolveDirect("app", "a", NEVER_ABORTED);
  equal(direct.id, "a");
  // No certificate for a name that routes nowhere; instance names still get one.
  equal(s.supervisor.mayObtainCertificate("app", undefined), false);
  equal(s.supervisor.mayObtainCertificate("app", "a"), true);
});
