/**
 * `max_awake` on fakes: a wake that needs room puts the least recently used idle instance to
 * sleep, never a busy one nor one listed in `[instances]`; with no idle instance it waits within
 * the start-up time, then answers 503; per-service and global limits each take their victims
 * from where they apply; two wakes at once do not both take the last slot.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { UnavailableError } from "../core/errors.ts";
import type { Target } from "../proxy/target.ts";
import { createTestSupervisor, type TestSupervisor } from "./testing/fakes.ts";

const NEVER_ABORTED = new AbortController().signal;
const CLIENT = "10.0.0.1";

function statusOf(t: TestSupervisor, service: string, id: string): string | undefined {
  return t.supervisor.get({ service, id })?.status;
}

/** Resolves `service:id` as a request from CLIENT does, and ends that request at once. */
async function visit(t: TestSupervisor, service: string, id: string): Promise<void> {
  const target = await t.supervisor.resolveDirect(service, id, NEVER_ABORTED, CLIENT);
  t.supervisor.beginRequest(target)();
}

Deno.test("max_awake: waking a third instance puts the least recently used one to sleep", async () => {
  await using t = createTestSupervisor(`
max_awake = 2
[service.notes]
command = "app {id}"
`);
  await t.supervisor.start();
  await visit(t, "notes", "alice");
  await t.clock.advance(1_000);
  await visit(t, "notes", "bob");
  await t.clock.advance(1_000);
  // alice was used after bob: bob is now the least recently used.
  await visit(t, "notes", "alice");
  await t.clock.advance(1_000);
  await visit(t, "notes", "carol");
  equal(statusOf(t, "notes", "bob"), "asleep");
  equal(t.launcher.last("bob").isAlive, false);
  equal(statusOf(t, "notes", "alice"), "running");
  equal(statusOf(t, "notes", "carol"), "running");
  equal(
    t.supervisor.get({ service: "notes", id: "bob" })?.reason,
    "to make room for notes:carol (max_awake = 2)",
  );
  deepEqual(t.metrics.evictions, ["notes"]);
  // The evicted one wakes again on its next request, evicting the next least recently used.
  await visit(t, "notes", "bob");
  equal(statusOf(t, "notes", "bob"), "running");
  equal(statusOf(t, "notes", "alice"), "asleep");
  equal(t.launcher.count("bob"), 2);
});

Deno.test("max_awake: a busy instance is never evicted; the wake waits, then gets 503", async () => {
  await using t = createTestSupervisor(`
max_awake = 1
[service.notes]
command = "app {id}"
startup_timeout = 2
`);
  await t.supervisor.start();
  const target = await t.supervisor.resolveDirect("notes", "alice", NEVER_ABORTED, CLIENT);
  const done = t.supervisor.beginRequest(target);
  const waking = t.supervisor.resolveDirect("notes", "bob", NEVER_ABORTED, CLIENT);
  const seen: { err?: unknown } = {};
  waking.catch((err: unknown) => seen.err = err);
  await t.clock.advance(1_000);
  equal(seen.err, undefined, "still waiting for room");
  equal(statusOf(t, "notes", "alice"), "running");
  await t.clock.advance(1_500);
  const outcome = (seen as { err?: unknown }).err;
  ok(outcome instanceof UnavailableError, `expected 503, got ${outcome}`);
  ok(outcome.message.includes("max_awake = 1"), outcome.message);
  equal(outcome.retryAfterSecs, 5);
  equal(t.launcher.count("bob"), 0, "nothing was started");
  equal(statusOf(t, "notes", "alice"), "running");
  done();
});

Deno.test("max_awake: a waiting wake gets the room once the busy instance goes idle", async () => {
  await using t = createTestSupervisor(`
max_awake = 1
[service.notes]
command = "app {id}"
startup_timeout = 5
`);
  await t.supervisor.start();
  const target = await t.supervisor.resolveDirect("notes", "alice", NEVER_ABORTED, CLIENT);
  const done = t.supervisor.beginRequest(target);
  const waking = t.supervisor.resolveDirect("notes", "bob", NEVER_ABORTED, CLIENT);
  await t.clock.advance(1_000);
  done();
  await t.clock.advance(500);
  equal((await waking).id, "bob");
  equal(statusOf(t, "notes", "alice"), "asleep");
});

Deno.test("max_awake: a per-service limit evicts in its service, the global one anywhere", async (t) => {
  await t.step("per service", async () => {
    await using s = createTestSupervisor(`
[service.notes]
command = "app {id}"
max_awake = 1
[service.chat]
command = "app {id}"
`);
    await s.supervisor.start();
    await visit(s, "chat", "old");
    await s.clock.advance(1_000);
    await visit(s, "notes", "alice");
    await s.clock.advance(1_000);
    await visit(s, "notes", "bob");
    // chat:old is older, but the full limit is notes': its victim is a notes instance.
    equal(statusOf(s, "chat", "old"), "running");
    equal(statusOf(s, "notes", "alice"), "asleep");
    equal(statusOf(s, "notes", "bob"), "running");
  });
  await t.step("global", async () => {
    await using s = createTestSupervisor(`
max_awake = 2
[service.notes]
command = "app {id}"
[service.chat]
command = "app {id}"
`);
    await s.supervisor.start();
    await visit(s, "chat", "old");
    await s.clock.advance(1_000);
    await visit(s, "notes", "alice");
    await s.clock.advance(1_000);
    await visit(s, "notes", "bob");
    equal(statusOf(s, "chat", "old"), "asleep");
    equal(statusOf(s, "notes", "alice"), "running");
    deepEqual(s.metrics.evictions, ["chat"]);
  });
});

Deno.test("max_awake: [instances] count but are never evicted", async () => {
  await using t = createTestSupervisor(`
max_awake = 2
[service.notes]
command = "app {id}"
startup_timeout = 1
[instances]
notes = ["pinned"]
`);
  await t.supervisor.start();
  await t.clock.advance(0);
  equal(statusOf(t, "notes", "pinned"), "running");
  await visit(t, "notes", "alice");
  await t.clock.advance(1_000);
  await visit(t, "notes", "bob");
  equal(statusOf(t, "notes", "pinned"), "running");
  equal(statusOf(t, "notes", "alice"), "asleep");
});

Deno.test("max_awake: two wakes at once do not both take the last slot", async () => {
  await using t = createTestSupervisor(`
max_awake = 1
[service.notes]
command = "app {id}"
startup_timeout = 1
`);
  await t.supervisor.start();
  const release = t.launcher.hold();
  const first = t.supervisor.resolveDirect("notes", "alice", NEVER_ABORTED, CLIENT);
  const second = t.supervisor.resolveDirect("notes", "bob", NEVER_ABORTED, "10.0.0.2");
  const secondOutcome = second.then(() => "served", (err: unknown) => err);
  // Both ask before either has launched: one gets the slot, the other waits for it.
  await t.clock.advance(100);
  release();
  const done = t.supervisor.beginRequest(await first);
  await t.clock.advance(2_000);
  ok(await secondOutcome instanceof UnavailableError);
  equal(t.launcher.count("bob"), 0);
  equal(t.launcher.processes.filter((p) => p.isAlive).length, 1);
  done();
});

Deno.test("max_awake: ten spawn obeys the limit and says so when nothing can be stopped", async () => {
  await using t = createTestSupervisor(`
max_awake = 1
[service.notes]
command = "app {id}"
startup_timeout = 1
`);
  await t.supervisor.start();
  const target = await t.supervisor.resolveDirect("notes", "alice", NEVER_ABORTED, CLIENT);
  const done = t.supervisor.beginRequest(target);
  const spawning = t.supervisor.spawn({ service: "notes", id: "bob" });
  const checked = rejects(spawning, (err: unknown) => {
    ok(err instanceof UnavailableError);
    equal(
      err.message,
      "Cannot wake notes:bob: max_awake = 1 reached and every awake instance is busy",
    );
    return true;
  });
  await t.clock.advance(1_500);
  await checked;
  done();
  // Once alice is idle, the spawn makes room.
  await t.supervisor.spawn({ service: "notes", id: "bob" });
  equal(statusOf(t, "notes", "alice"), "asleep");
});

Deno.test("max_awake: a victim slow to stop holds up no other wake", async () => {
  await using t = createTestSupervisor(`
max_awake = 2
[service.notes]
command = "app {id}"
startup_timeout = 30
`);
  await t.supervisor.start();
  await visit(t, "notes", "alice");
  await t.clock.advance(1_000);
  await visit(t, "notes", "bob");
  await t.clock.advance(1_000);
  // alice ignores SIGTERM: her stop lasts until the test ends it (a long stop_grace_period).
  const alice = t.launcher.last("alice");
  const stopAlice = alice.stop.bind(alice);
  const graceOver = Promise.withResolvers<void>();
  alice.stop = async (graceMs: number) => {
    await graceOver.promise;
    return await stopAlice(graceMs);
  };
  let carol: unknown;
  let dave: unknown;
  const settle = (set: (outcome: unknown) => void) =>
    [
      (target: Target) => {
        t.supervisor.beginRequest(target)();
        set("served");
      },
      (err: unknown) => set(err),
    ] as const;
  t.supervisor.resolveDirect("notes", "carol", NEVER_ABORTED, CLIENT)
    .then(...settle((o) => carol = o));
  await t.clock.advance(100);
  t.supervisor.resolveDirect("notes", "dave", NEVER_ABORTED, "10.0.0.2")
    .then(...settle((o) => dave = o));
  const pass = async (until: () => boolean) => {
    for (let i = 0; i < 20 && !until(); i++) {
      await t.clock.advance(100);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  await pass(() => dave !== undefined);
  const daveDuringAlicesStop = dave;
  const bobDuringAlicesStop = statusOf(t, "notes", "bob");
  graceOver.resolve();
  await pass(() => dave !== undefined && carol !== undefined);
  equal(daveDuringAlicesStop, "served");
  equal(bobDuringAlicesStop, "asleep");
  equal(carol, "served");
  equal(statusOf(t, "notes", "alice"), "asleep");
  equal(t.launcher.processes.filter((p) => p.isAlive).length, 2);
});
