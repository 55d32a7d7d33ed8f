import { equal } from "node:assert/strict";
import { type IdleInputs, isIdle } from "./idle.ts";

Deno.test("isIdle() is true only after idleTimeoutMs of no traffic with nothing in flight", async (t) => {
  const cases: [name: string, inputs: IdleInputs, expected: boolean][] = [
    ["exactly at the timeout", {
      lastActivityMs: 0,
      nowMs: 5000,
      idleTimeoutMs: 5000,
      activeRequests: 0,
    }, true],
    ["well past the timeout", {
      lastActivityMs: 0,
      nowMs: 50_000,
      idleTimeoutMs: 5000,
      activeRequests: 0,
    }, true],
    ["one ms before the timeout", {
      lastActivityMs: 0,
      nowMs: 4999,
      idleTimeoutMs: 5000,
      activeRequests: 0,
    }, false],
    ["a request in flight", {
      lastActivityMs: 0,
      nowMs: 50_000,
      idleTimeoutMs: 5000,
      activeRequests: 1,
    }, false],
    ["timeout 0 means never", {
      lastActivityMs: 0,
      nowMs: 1e12,
      idleTimeoutMs: 0,
      activeRequests: 0,
    }, false],
    ["negative timeout means never", {
      lastActivityMs: 0,
      nowMs: 1e12,
      idleTimeoutMs: -1,
      activeRequests: 0,
    }, false],
    ["activity in the future (clock step back)", {
      lastActivityMs: 10_000,
      nowMs: 0,
      idleTimeoutMs: 5000,
      activeRequests: 0,
    }, false],
  ];
  for (const [name, inputs, expected] of cases) {
    await t.step(name, () => equal(isIdle(inputs), expected));
  }
});
