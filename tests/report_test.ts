/**
 * Integration tests of `ten report` against a real `ten serve`: a healthy and a failing
 * instance, `--fail-on` exit codes, a local webhook receiver (answering, failing twice, never
 * answering), and a daemon that is down.
 * @module
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { okService, runTen, serviceBlock, settingsBlock, startDaemon } from "../testkit/mod.ts";

/** Short webhook timeouts and retry delays for the tests (the defaults are 10 s and 1 s). */
const FAST_WEBHOOK = {
  TENEMENT_REPORT_WEBHOOK_TIMEOUT_MS: "500",
  TENEMENT_REPORT_WEBHOOK_BACKOFF_MS: "50",
};

/** A webhook receiver on 127.0.0.1 that records bodies and answers with `statusOf(try)`. */
function receiver(statusOf: (attempt: number) => number | "hang") {
  const bodies: Array<Record<string, unknown>> = [];
  const released = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      bodies.push(await req.json() as Record<string, unknown>);
      const status = statusOf(bodies.length);
      if (status === "hang") {
        // Never answers while the client waits: released only when the test ends.
        await released.promise;
        return new Response(null, { status: 504 });
      }
      return new Response(null, { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    bodies,
    async [Symbol.asyncDispose]() {
      released.resolve();
      await server.shutdown();
    },
  };
}

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const FAILING = serviceBlock("bad", {
  fixture: "crash_on_start.py",
  health: "/health",
  startup_timeout: 2,
});

Deno.test("ten report: a failing instance crosses --fail-on, and the webhook is retried on 5xx", async () => {
  await using d = await startDaemon({
    config: settingsBlock({ max_restarts: 1, restart_window: 60 }) + okService("good") + FAILING +
      // Started with the daemon: an explicit spawn that crashes at start-up is stopped instead.
      '\n[instances]\ngood = ["a"]\nbad = ["x"]\n',
  });
  await d.running("good:a", { timeoutMs: 15_000 });
  await d.untilStatus("bad:x", "failed", { timeoutMs: 15_000 });

  const text = await d.ten(["report"]);
  equal(text.code, 1, `${text.stdout}\n${text.stderr}`);
  match(text.stdout, /tenement FAILED at http:\/\/127\.0\.0\.1:\d+: 2 instance\(s\)/);
  match(text.stdout, /^bad:x: failed \(.*exited with code 3/m);
  match(text.stdout, /^ {4}\d+× fatal: cannot open database: \/nonexistent\/db$/m);
  match(text.stdout, /^good:a: running, healthy$/m);

  const failed = await d.ten(["report", "--fail-on", "failed", "--format", "json"]);
  equal(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
  const report = JSON.parse(failed.stdout);
  equal(report.ok, true);
  equal(report.verdict, "failed");
  deepEqual(report.instances.map((row: { id: string }) => row.id), ["bad:x", "good:a"]);
  ok(report.instances[0].error_lines >= 1, failed.stdout);
  equal(report.instances[1].wakes, 0, "good:a was started with the daemon, not woken by a request");
  equal(report.certificates, null, "no TLS: no certificates");

  equal((await d.ten(["report", "--fail-on", "never"])).code, 0);
  const markdown = await d.ten(["report", "--format", "markdown", "--fail-on", "never"]);
  match(markdown.stdout, /^\| bad:x \| failed/m);

  await using hook = receiver((attempt) => attempt <= 2 ? 500 : 200);
  const sent = await d.ten(["report", "--webhook", hook.url], FAST_WEBHOOK);
  equal(sent.code, 1, `the threshold still decides the exit code: ${sent.stderr}`);
  equal(hook.bodies.length, 3, "two 500s, then delivered");
  match(String(hook.bodies[2]!["text"]), /^tenement FAILED at .*\nneeds attention: bad:x failed/);
  equal(hook.bodies[2]!["verdict"], "failed");
});

Deno.test("ten report: all healthy exits 0; a webhook that never answers times out (exit 4)", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("good") + '\n[instances]\ngood = ["a"]\n',
  });
  await d.running("good:a", { timeoutMs: 15_000 });
  const fine = await d.ten(["report", "--fail-on", "failed"]);
  equal(fine.code, 0, fine.stderr);
  match(fine.stdout, /tenement OK at .*: 1 instance\(s\), 1 running, 1 healthy/);

  await using hook = receiver(() => 200);
  const delivered = await d.ten(["report", "--webhook", hook.url], FAST_WEBHOOK);
  equal(delivered.code, 0, delivered.stderr);
  equal(hook.bodies.length, 1);
  match(String(hook.bodies[0]!["text"]), /^tenement OK/);

  await using silent = receiver(() => "hang");
  const timedOut = await d.ten(["report", "--webhook", silent.url], FAST_WEBHOOK);
  equal(timedOut.code, 4, timedOut.stderr);
  match(
    timedOut.stderr,
    /Error: Webhook http:\/\/127\.0\.0\.1:\d+ failed: no answer within 500 ms/,
  );
  equal(silent.bodies.length, 3, "three tries");
});

Deno.test("ten report: a daemon that is down is reported in every format, and to the webhook", async () => {
  const server = `http://127.0.0.1:${closedPort()}`;
  await using hook = receiver(() => 200);
  for (const format of ["text", "markdown", "json"]) {
    const res = await runTen(
      ["report", "--server", server, "--token", "t", "--format", format, "--webhook", hook.url],
      { env: FAST_WEBHOOK },
    );
    equal(res.code, 3, `${format}: ${res.stderr}`);
    ok(res.stdout.includes(`tenement is not answering at ${server}: `), res.stdout);
    match(res.stdout, /[Cc]onnection refused/);
  }
  equal(hook.bodies.length, 3);
  equal(hook.bodies[0]!["ok"], false);
  match(String(hook.bodies[0]!["text"]), /^tenement DOWN: tenement is not answering at/);
});

Deno.test("ten report: bad flags are usage errors (exit 2) naming the flag", async (t) => {
  for (
    const [args, flag] of [
      [["--since", "soon"], "--since"],
      [["--webhook", "ftp://example.com/x"], "--webhook"],
      [["--format", "xml"], "--format"],
      [["--fail-on", "sometimes"], "--fail-on"],
    ] as const
  ) {
    await t.step(flag, async () => {
      const res = await runTen([
        "report",
        ...args,
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "t",
      ]);
      equal(res.code, 2, res.stderr);
      ok(res.stderr.includes(`option '${flag} `), res.stderr);
    });
  }
});
