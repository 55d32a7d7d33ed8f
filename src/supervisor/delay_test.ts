import { equal, rejects } from "node:assert/strict";
import { waitAtMost } from "./delay.ts";

Deno.test("waitAtMost() resolves as soon as the event settles", async () => {
  const started = performance.now();
  await waitAtMost(Promise.resolve(), 10_000);
  await waitAtMost(Promise.reject(new Error("x")), 10_000);
  // A timer left running would also trip Deno's op sanitizer here.
  equal(performance.now() - started < 1_000, true);
});

Deno.test("waitAtMost() resolves after ms when the event never settles", async () => {
  const started = performance.now();
  await waitAtMost(new Promise(() => {}), 30);
  equal(performance.now() - started >= 25, true);
});

Deno.test("waitAtMost() rejects with the signal's reason", async () => {
  const controller = new AbortController();
  const waiting = waitAtMost(new Promise(() => {}), 10_000, { signal: controller.signal });
  controller.abort(new Error("gone"));
  await rejects(waiting, /gone/);
  await rejects(waitAtMost(Promise.resolve(), 10, { signal: controller.signal }), /gone/);
});
