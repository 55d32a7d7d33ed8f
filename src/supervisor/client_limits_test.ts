/**
 * Per-client wake and creation rates on fakes: over its rate a client gets 429 (RateLimitedError
 * with Retry-After) and nothing is started or created; other clients and requests to awake
 * instances are not affected.
 */
import { equal, ok, rejects } from "node:assert/strict";
import { RateLimitedError } from "../core/errors.ts";
import { createTestSupervisor } from "./testing/fakes.ts";

const NEVER_ABORTED = new AbortController().signal;

Deno.test("auto_create_rate_per_client: a client over its rate gets 429 and creates nothing", async () => {
  await using t = createTestSupervisor(`
auto_create_rate_per_client = "2/min"
[service.notes]
command = "app {id}"
`);
  const { supervisor, clock, launcher } = t;
  await supervisor.start();
  await supervisor.resolveDirect("notes", "a", NEVER_ABORTED, "198.51.100.7");
  await clock.advance(10_000);
  await supervisor.resolveDirect("notes", "b", NEVER_ABORTED, "198.51.100.7");
  await rejects(supervisor.resolveDirect("notes", "c", NEVER_ABORTED, "198.51.100.7"), (err) => {
    ok(err instanceof RateLimitedError);
    equal(err.retryAfterSecs, 50);
    return true;
  });
  equal(supervisor.get({ service: "notes", id: "c" }), undefined, "not created");
  equal(launcher.count("c"), 0);
  // Another client, and the same client's known instances, pass.
  await supervisor.resolveDirect("notes", "c", NEVER_ABORTED, "198.51.100.8");
  await supervisor.resolveDirect("notes", "a", NEVER_ABORTED, "198.51.100.7");
  await clock.advance(50_000);
  await supervisor.resolveDirect("notes", "d", NEVER_ABORTED, "198.51.100.7");
});

Deno.test("wake_rate_per_client: waking asleep instances is limited per client, serving awake ones is not", async () => {
  await using t = createTestSupervisor(`
wake_rate_per_client = "2/min"
[service.notes]
command = "app {id}"
[instances]
notes = ["a", "b", "c"]
`);
  const { supervisor, clock, launcher } = t;
  await supervisor.start();
  await clock.advance(0);
  for (const id of ["a", "b", "c"]) await supervisor.stop({ service: "notes", id });
  await supervisor.resolveDirect("notes", "a", NEVER_ABORTED, "2001:db8::1");
  await supervisor.resolveDirect("notes", "b", NEVER_ABORTED, "2001:db8::2");
  // The same /64: the third wake is over the rate.
  await rejects(
    supervisor.resolveDirect("notes", "c", NEVER_ABORTED, "2001:db8::3"),
    RateLimitedError,
  );
  equal(supervisor.get({ service: "notes", id: "c" })?.status, "stopped");
  equal(launcher.count("c"), 1, "only its start with the daemon");
  for (let i = 0; i < 10; i++) {
    await supervisor.resolveDirect("notes", "a", NEVER_ABORTED, "2001:db8::1");
  }
  await supervisor.resolveDirect("notes", "c", NEVER_ABORTED, "2001:db8:1::1");
  equal(supervisor.get({ service: "notes", id: "c" })?.status, "running");
});
