import { deepEqual, equal } from "node:assert/strict";
import { FailureLimiter } from "./failure_limiter.ts";

Deno.test("FailureLimiter limits an address after its maximum, until the window slides", () => {
  const limiter = new FailureLimiter({ maxPerClient: 3, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) equal(limiter.recordFailure("a", i * 1000).isLimited, false);
  deepEqual(limiter.recordFailure("a", 3000), { isLimited: true, retryAfterSeconds: 58 });
  // Another address is not affected.
  equal(limiter.recordFailure("b", 3000).isLimited, false);
  // Failures while limited count: the oldest kept is now at 1000 ms.
  equal(limiter.recordFailure("a", 60_500).isLimited, true);
  equal(limiter.recordFailure("a", 200_000).isLimited, false);
});

Deno.test("FailureLimiter limits everyone once the total is reached (addresses chosen by the caller)", () => {
  const limiter = new FailureLimiter({ maxPerClient: 100, maxTotal: 5 });
  for (let i = 0; i < 5; i++) equal(limiter.recordFailure(`10.0.0.${i}`, 0).isLimited, false);
  equal(limiter.recordFailure("10.0.0.99", 1).isLimited, true);
  equal(limiter.recordFailure("10.0.0.100", 70_000).isLimited, false);
});

Deno.test("FailureLimiter forgets the least recently failing address beyond maxClients", () => {
  const limiter = new FailureLimiter({ maxPerClient: 1, maxClients: 3, maxTotal: 1000 });
  for (const ip of ["a", "b", "c"]) limiter.recordFailure(ip, 0);
  // "a" fails again (limited) and becomes the most recent; "d" pushes out "b".
  equal(limiter.recordFailure("a", 1).isLimited, true);
  limiter.recordFailure("d", 2);
  equal(limiter.size, 3);
  equal(limiter.recordFailure("b", 3).isLimited, false, "b was forgotten");
  equal(limiter.recordFailure("a", 4).isLimited, true, "a was kept");
});

Deno.test("FailureLimiter keeps the table bounded under 30 000 distinct addresses", () => {
  const limiter = new FailureLimiter({ maxClients: 10_000, maxTotal: Infinity });
  for (let i = 0; i < 30_000; i++) limiter.recordFailure(`ip-${i}`, i);
  equal(limiter.size, 10_000);
});

Deno.test("FailureLimiter counts IPv6 addresses by their /64", () => {
  const limiter = new FailureLimiter({ maxPerClient: 2 });
  equal(limiter.recordFailure("2001:db8:1:2::1", 0).isLimited, false);
  equal(limiter.recordFailure("2001:db8:1:2::2", 0).isLimited, false);
  equal(limiter.recordFailure("2001:db8:1:2:ffff::3", 0).isLimited, true);
  equal(limiter.recordFailure("2001:db8:1:3::1", 0).isLimited, false);
});
