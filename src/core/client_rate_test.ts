import { deepEqual, equal } from "node:assert/strict";
import { ClientRateLimiter, parseRate } from "./client_rate.ts";

Deno.test("parseRate() reads counts per second, minute and hour, and 0 for no limit", () => {
  const cases: [string, ReturnType<typeof parseRate>][] = [
    ["30/min", { count: 30, windowMs: 60_000 }],
    ["5 / s", { count: 5, windowMs: 1_000 }],
    ["100/h", { count: 100, windowMs: 3_600_000 }],
    ["2/minute", { count: 2, windowMs: 60_000 }],
    ["0", { count: 0, windowMs: 60_000 }],
    ["30", undefined],
    ["30/day", undefined],
    ["-1/min", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of cases) deepEqual(parseRate(text), expected, text);
});

Deno.test("ClientRateLimiter counts per address, IPv6 by /64, and says when to retry", () => {
  const limiter = new ClientRateLimiter({ count: 2, windowMs: 60_000 });
  equal(limiter.take("2001:db8::1", 0).isLimited, false);
  equal(limiter.take("2001:db8::2", 10_000).isLimited, false);
  deepEqual(limiter.take("2001:db8::ffff", 20_000), { isLimited: true, retryAfterSeconds: 40 });
  equal(limiter.take("2001:db8:0:1::1", 20_000).isLimited, false, "another /64");
  equal(limiter.take("192.0.2.1", 20_000).isLimited, false);
  // A refused event does not count: the window slides from the allowed ones.
  equal(limiter.take("2001:db8::1", 60_000).isLimited, false);
});

Deno.test("ClientRateLimiter remembers at most maxClients addresses, the least recent first out", () => {
  const limiter = new ClientRateLimiter({ count: 1, windowMs: 60_000 }, { maxClients: 100 });
  for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, i);
  equal(limiter.size, 100);
  equal(limiter.take("10.0.39.15", 10_000).isLimited, true, "a recent address is remembered");
  equal(limiter.take("10.0.0.0", 10_000).isLimited, false, "the oldest was forgotten");
});

Deno.test("ClientRateLimiter with a count of 0 never limits and remembers nothing", () => {
  const limiter = new ClientRateLimiter({ count: 0, windowMs: 60_000 });
  for (let i = 0; i < 100; i++) equal(limiter.take("10.0.0.1", i).isLimited, false);
  equal(limiter.size, 0);
});
