import { ok } from "node:assert/strict";
import { EventLoopLag } from "./event_loop_lag.ts";

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a handler that hogs the loop */ }
}

Deno.test("EventLoopLag reports a loop blocked for 200 ms as about 0.2 s of lag", async () => {
  using lag = new EventLoopLag({ everyMs: 20, windowMs: 10_000 });
  lag.start();
  await new Promise((resolve) => setTimeout(resolve, 30));
  blockFor(200);
  await new Promise((resolve) => setTimeout(resolve, 60));
  ok(lag.maxSeconds >= 0.15 && lag.maxSeconds < 5, `lag ${lag.maxSeconds} s`);
});

Deno.test("EventLoopLag forgets a delay once it is out of the window", async () => {
  using lag = new EventLoopLag({ everyMs: 10, windowMs: 50 });
  lag.start();
  await new Promise((resolve) => setTimeout(resolve, 15));
  blockFor(100);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const justAfter = lag.maxSeconds;
  ok(justAfter >= 0.05, `lag ${justAfter} s just after`);
  await new Promise((resolve) => setTimeout(resolve, 400));
  ok(lag.maxSeconds < justAfter, `lag ${lag.maxSeconds} s later, ${justAfter} s just after`);
});
