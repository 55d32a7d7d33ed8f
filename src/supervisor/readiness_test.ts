import { deepEqual, equal, rejects } from "node:assert/strict";
import type { ProbeResult } from "./ports.ts";
import { waitUntilReady } from "./readiness.ts";

/** A probe that returns `results` in turn and repeats the last one. */
function scripted(results: ProbeResult[]): { probe: () => Promise<ProbeResult>; calls: number } {
  const state = {
    calls: 0,
    probe: (): Promise<ProbeResult> => {
      const result = results[Math.min(state.calls, results.length - 1)]!;
      state.calls++;
      return Promise.resolve(result);
    },
  };
  return state;
}

const PASS: ProbeResult = { isPass: true, detail: "HTTP 200" };
const REFUSED: ProbeResult = { isPass: false, detail: "connection refused" };

Deno.test("waitUntilReady() returns at the first passing probe", async () => {
  const s = scripted([PASS]);
  const result = await waitUntilReady(s.probe, {
    timeoutMs: 5000,
    signal: new AbortController().signal,
  });
  deepEqual(result, { isReady: true, lastDetail: "HTTP 200" });
  equal(s.calls, 1);
});

Deno.test("waitUntilReady() keeps probing through failures until one passes", async () => {
  const s = scripted([REFUSED, REFUSED, { isPass: false, detail: "HTTP 503" }, PASS]);
  const result = await waitUntilReady(s.probe, {
    timeoutMs: 5000,
    signal: new AbortController().signal,
  });
  deepEqual(result, { isReady: true, lastDetail: "HTTP 200" });
  equal(s.calls, 4);
});

Deno.test("waitUntilReady() times out with the last probe's detail", async () => {
  let calls = 0;
  const probe = (): Promise<ProbeResult> =>
    Promise.resolve({ isPass: false, detail: `attempt ${++calls}` });
  const result = await waitUntilReady(probe, {
    timeoutMs: 40,
    maxIntervalMs: 5,
    signal: new AbortController().signal,
  });
  equal(result.isReady, false);
  equal(result.lastDetail, `attempt ${calls}`);
  equal(calls > 1, true, "should have probed more than once in 40 ms");
});

Deno.test("waitUntilReady() with timeoutMs 0 probes exactly once", async () => {
  const s = scripted([REFUSED]);
  const result = await waitUntilReady(s.probe, {
    timeoutMs: 0,
    signal: new AbortController().signal,
  });
  deepEqual(result, { isReady: false, lastDetail: "connection refused" });
  equal(s.calls, 1);
});

Deno.test("waitUntilReady() rejects with the abort reason without probing when already aborted", async () => {
  const s = scripted([PASS]);
  const reason = new Error("stopped");
  await rejects(
    waitUntilReady(s.probe, { timeoutMs: 5000, signal: AbortSignal.abort(reason) }),
    (err: unknown) => err === reason,
  );
  equal(s.calls, 0);
});

Deno.test("waitUntilReady() rejects with the abort reason when aborted between probes", async () => {
  const controller = new AbortController();
  const reason = new Error("stopped");
  let calls = 0;
  const probe = (): Promise<ProbeResult> => {
    if (++calls === 3) controller.abort(reason);
    return Promise.resolve(REFUSED);
  };
  await rejects(
    waitUntilReady(probe, { timeoutMs: 60_000, signal: controller.signal }),
    (err: unknown) => err === reason,
  );
  equal(calls, 3);
});

Deno.test("waitUntilReady() rejects when aborted during a probe that then passes", async () => {
  const controller = new AbortController();
  const probe = (): Promise<ProbeResult> => {
    controller.abort(new Error("stopped"));
    return Promise.resolve(PASS);
  };
  await rejects(waitUntilReady(probe, { timeoutMs: 5000, signal: controller.signal }), /stopped/);
});
