import { deepEqual, equal, rejects } from "node:assert/strict";
import { delay, waitAtMost } from "../delay.ts";
import { waitUntilReady } from "../readiness.ts";
import { FakeClock } from "./fake_clock.ts";

Deno.test("FakeClock fires due timers in time order, and none that are cancelled", async () => {
  const clock = new FakeClock(0);
  const fired: string[] = [];
  clock.setTimer(() => fired.push("b@20"), 20);
  clock.setTimer(() => fired.push("a@10"), 10);
  const cancelled = clock.setTimer(() => fired.push("never"), 15);
  clock.setTimer(() => fired.push("c@20"), 20);
  cancelled[Symbol.dispose]();
  await clock.advance(19);
  deepEqual(fired, ["a@10"]);
  equal(clock.now(), 19);
  await clock.advance(1);
  deepEqual(fired, ["a@10", "b@20", "c@20"]);
  equal(clock.pendingTimers, 0);
});

Deno.test("FakeClock runs the work a timer starts before the next timer fires", async () => {
  const clock = new FakeClock(0);
  const seen: number[] = [];
  const loop = (async () => {
    for (let i = 0; i < 3; i++) {
      await delay(100, { clock });
      seen.push(clock.now());
    }
  })();
  await clock.advance(1_000);
  await loop;
  deepEqual(seen, [100, 200, 300]);
});

Deno.test("waitAtMost() and delay() on a fake clock: no real time passes", async () => {
  const clock = new FakeClock(0);
  const waiting = waitAtMost(new Promise(() => {}), 60_000, { clock });
  await clock.advance(60_000);
  await waiting;
  const controller = new AbortController();
  const sleeping = delay(1_000, { clock, signal: controller.signal });
  controller.abort(new Error("gone"));
  await rejects(sleeping, /gone/);
  equal(clock.pendingTimers, 0);
});

Deno.test("waitUntilReady() on a fake clock gives up after timeoutMs of fake time", async () => {
  const clock = new FakeClock(0);
  let probes = 0;
  const waiting = waitUntilReady(() => {
    probes++;
    return Promise.resolve({ isPass: false, detail: "connection refused" });
  }, { timeoutMs: 5_000, signal: new AbortController().signal, clock });
  await clock.advance(5_000);
  deepEqual(await waiting, { isReady: false, lastDetail: "connection refused" });
  equal(probes > 100, true);
});
