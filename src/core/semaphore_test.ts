import { deepEqual, equal, rejects } from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(
  p: Promise<T>,
): { state: "pending" | "resolved" | "rejected"; promise: Promise<T> } {
  const tracked = { state: "pending" as "pending" | "resolved" | "rejected", promise: p };
  p.then(() => tracked.state = "resolved", () => tracked.state = "rejected");
  return tracked;
}

Deno.test("Semaphore lets `limit` holders in and makes the next wait for a release", async () => {
  const sem = new Semaphore(2);
  const a = await sem.acquire();
  const b = await sem.acquire();
  const c = track(sem.acquire());
  await settle();
  equal(c.state, "pending");
  a[Symbol.dispose]();
  await settle();
  equal(c.state, "resolved");
  b[Symbol.dispose]();
  (await c.promise)[Symbol.dispose]();
});

Deno.test("Semaphore grants waiting holders in arrival order", async () => {
  const sem = new Semaphore(1);
  const order: number[] = [];
  const first = await sem.acquire();
  const waiters = [1, 2, 3].map(async (n) => {
    using _permit = await sem.acquire();
    order.push(n);
    await settle();
  });
  first[Symbol.dispose]();
  await Promise.all(waiters);
  deepEqual(order, [1, 2, 3]);
});

Deno.test("Semaphore treats a limit below 1 as 1", async () => {
  for (const limit of [0, -3]) {
    const sem = new Semaphore(limit);
    const a = await sem.acquire();
    const b = track(sem.acquire());
    await settle();
    equal(b.state, "pending", `limit ${limit}`);
    a[Symbol.dispose]();
    (await b.promise)[Symbol.dispose]();
  }
});

Deno.test("Semaphore permit disposed twice frees only one slot", async () => {
  const sem = new Semaphore(1);
  const a = await sem.acquire();
  a[Symbol.dispose]();
  a[Symbol.dispose]();
  const b = await sem.acquire();
  const c = track(sem.acquire());
  await settle();
  equal(c.state, "pending");
  b[Symbol.dispose]();
  (await c.promise)[Symbol.dispose]();
});

Deno.test("Semaphore.acquire() rejects with the abort reason when aborted while waiting", async () => {
  const sem = new Semaphore(1);
  const holder = await sem.acquire();
  const controller = new AbortController();
  const waiter = sem.acquire(controller.signal);
  const reason = new Error("shutting down");
  controller.abort(reason);
  await rejects(waiter, (err: unknown) => err === reason);
  // The aborted waiter must not keep a slot: after the holder releases, a new caller gets in.
  holder[Symbol.dispose]();
  const next = track(sem.acquire());
  await settle();
  equal(next.state, "resolved");
  (await next.promise)[Symbol.dispose]();
});

Deno.test("Semaphore.acquire() with an already aborted signal rejects instead of waiting", async () => {
  const sem = new Semaphore(1);
  const holder = await sem.acquire();
  const reason = new Error("already gone");
  const waiter = track(sem.acquire(AbortSignal.abort(reason)));
  await settle();
  const state = waiter.state;
  holder[Symbol.dispose]();
  // Settle the waiter either way, so a failure here leaves nothing pending.
  await waiter.promise.then((permit) => permit[Symbol.dispose](), () => {});
  equal(state, "rejected", "an aborted caller waited for a slot instead of rejecting");
});

Deno.test("Semaphore ignores an abort that comes after the slot was granted", async () => {
  const sem = new Semaphore(1);
  const holder = await sem.acquire();
  const controller = new AbortController();
  const waiter = sem.acquire(controller.signal);
  holder[Symbol.dispose]();
  const permit = await waiter;
  controller.abort();
  const next = track(sem.acquire());
  await settle();
  equal(next.state, "pending", "the granted permit still holds the only slot");
  permit[Symbol.dispose]();
  (await next.promise)[Symbol.dispose]();
});
