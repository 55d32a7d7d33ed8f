/**
 * Start-up failures that used to look like success: `ten spawn` of an app that listens on a fixed
 * port instead of `$PORT`, or that crashes at start-up, fails with the reason and the last stderr
 * lines, and the instance is stopped for good (also across a daemon restart) instead of being
 * retried; an app that listens but fails its health check is spawned with a warning.
 */
import { equal, match, ok } from "node:assert/strict";
import { type Daemon, sleep, startDaemon, type TenementTomlParts } from "../testkit/mod.ts";

/** A port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function config(fixedPort: number): TenementTomlParts {
  return {
    settings: { max_restarts: 3, backoff_base_ms: 0 },
    services: {
      fixed: {
        fixture: "fixed_port.py",
        health: "/health",
        startup_timeout: 3,
        env: { FIXED_PORT: String(fixedPort) },
      },
      crash: { fixture: "crash_on_start.py", health: "/health" },
      // Long enough for a Python start on a loaded machine.
      sick: { fixture: "unhealthy.py", health: "/health", startup_timeout: 3 },
    },
  };
}

/** Asserts that `key` stays stopped, without a process, for a while. */
async function staysStopped(d: Daemon, key: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const row = await d.instance(key);
    equal(row?.status, "stopped", JSON.stringify(row));
    equal(row?.pid, null);
    await sleep(300);
  }
}

Deno.test("ten spawn of an app on a fixed port fails, names $PORT, and stops it", async () => {
  const fixedPort = freePort();
  await using d = await startDaemon({ config: config(fixedPort) });
  const res = await d.ten(["spawn", "fixed:a"]);
  equal(res.code, 1, res.stdout + res.stderr);
  equal(res.stdout, "");
  match(
    res.stderr,
    /^Error: fixed:a did not start: nothing is listening on port \d+ after 3 s: the app must listen on \$PORT\. fixed:a is stopped; fix it and run ten spawn again\n/,
  );
  // The last stderr lines, where the app says which port it took.
  ok(res.stderr.includes(`fixed_port listening on 127.0.0.1:${fixedPort}`), res.stderr);
  ok(!res.stderr.includes("\r"), "no progress on a non-terminal");

  const row = await d.instance("fixed:a");
  match(row?.reason ?? "", /^nothing is listening on port \d+ after 3 s/);
  await staysStopped(d, "fixed:a");

  // Still stopped after a daemon restart: nothing wants it running.
  equal(await d.stop(), 0);
  await d.start();
  await staysStopped(d, "fixed:a");
});

Deno.test("ten spawn of an app that crashes at start-up stops it instead of retrying", async () => {
  await using d = await startDaemon({ config: config(freePort()) });
  const res = await d.ten(["spawn", "crash:b"]);
  equal(res.code, 1, res.stdout + res.stderr);
  match(
    res.stderr,
    /^Error: crash:b exited during start-up: exited with code 3 .*\. crash:b is stopped; fix it and run ten spawn again\n/,
  );
  ok(/^\s+fatal: cannot open database: \/nonexistent\/db$/m.test(res.stderr), res.stderr);
  await staysStopped(d, "crash:b");
  const ps = await d.ten(["ps", "--all"]);
  match(ps.stdout, /crash:b .*stopped .*exited with code 3/);

  equal(await d.stop(), 0);
  await d.start();
  await staysStopped(d, "crash:b");
});

Deno.test("ten spawn of an app whose health check fails warns and keeps it running", async () => {
  await using d = await startDaemon({ config: config(freePort()) });
  const res = await d.ten(["spawn", "sick:c"]);
  equal(res.code, 0, res.stderr);
  match(res.stdout, /^Spawned sick:c\nListening on 127\.0\.0\.1:\d+\n$/);
  equal(
    res.stderr,
    "Warning: sick:c is not healthy after 3 s (GET /health → 500); it keeps running, and is restarted while its health check fails\n",
  );
  const row = await d.instance("sick:c");
  equal(row?.status, "starting");
  ok(row?.pid !== null);
});
