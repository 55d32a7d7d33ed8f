import { deepEqual, equal, rejects } from "node:assert/strict";
import { KeyedLock } from "./keyed_lock.ts";

/** Lets every pending promise callback and timer-0 task run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("KeyedLock serialises holders of the same key in arrival order", async () => {
  const lock = new KeyedLock();
  const events: string[] = [];
  const first = await lock.acquire("notes:alice");
  const waiters = ["second", "third"].map(async (name) => {
    using _permit = await lock.acquire("notes:alice");
    events.push(`${name} in`);
    await settle();
    events.push(`${name} out`);
  });
  await settle();
  equal(events.length, 0, "waiters must not enter while the first holds the key");
  events.push("first out");
  first[Symbol.dispose]();
  await Promise.all(waiters);
  deepEqual(events, ["first out", "second in", "second out", "third in", "third out"]);
});

Deno.test("KeyedLock does not make different keys wait for each other", async () => {
  const lock = new KeyedLock();
  using _alice = await lock.acquire("notes:alice");
  let isBobIn = false;
  const bob = lock.acquire("notes:bob").then((permit) => {
    isBobIn = true;
    return permit;
  });
  await settle();
  equal(isBobIn, true);
  (await bob)[Symbol.dispose]();
});

Deno.test("KeyedLock.isBusy() is true while a key is held or awaited, false after", async () => {
  const lock = new KeyedLock();
  equal(lock.isBusy("k"), false);
  const first = await lock.acquire("k");
  equal(lock.isBusy("k"), true);
  const second = lock.acquire("k");
  first[Symbol.dispose]();
  equal(lock.isBusy("k"), true);
  const permit = await second;
  equal(lock.isBusy("k"), true);
  permit[Symbol.dispose]();
  equal(lock.isBusy("k"), false);
  equal(lock.isBusy("other"), false);
});

Deno.test("KeyedLock releases a permit taken with `using` when the holder throws", async () => {
  const lock = new KeyedLock();
  await rejects(async () => {
    using _permit = await lock.acquire("k");
    throw new Error("boom");
  }, /boom/);
  equal(lock.isBusy("k"), false);
  using _next = await lock.acquire("k");
});

Deno.test("KeyedLock tolerates a permit disposed twice", async () => {
  const lock = new KeyedLock();
  const first = await lock.acquire("k");
  const second = lock.acquire("k");
  first[Symbol.dispose]();
  first[Symbol.dispose]();
  const permit = await second;
  let isThirdIn = false;
  const third = lock.acquire("k").then((p) => {
    isThirdIn = true;
    return p;
  });
  await settle();
  equal(isThirdIn, false, "a second dispose of an old permit must not let a third holder in");
  permit[Symbol.dispose]();
  (await third)[Symbol.dispose]();
  equal(lock.isBusy("k"), false);
});
