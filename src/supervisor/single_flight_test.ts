import { equal, rejects, strictEqual } from "node:assert/strict";
import { SingleFlight } from "./single_flight.ts";

Deno.test("SingleFlight.run() shares one promise between concurrent callers of a key", async () => {
  const flight = new SingleFlight<string>();
  let runs = 0;
  const { promise, resolve } = Promise.withResolvers<string>();
  const work = (): Promise<string> => {
    runs++;
    return promise;
  };
  const a = flight.run("notes:alice", work);
  const b = flight.run("notes:alice", work);
  strictEqual(a, b);
  equal(flight.size, 1);
  resolve("ready");
  equal(await a, "ready");
  equal(await b, "ready");
  equal(runs, 1);
  equal(flight.size, 0);
});

Deno.test("SingleFlight.run() runs different keys independently", async () => {
  const flight = new SingleFlight<string>();
  const a = flight.run("a", () => Promise.resolve("A"));
  const b = flight.run("b", () => Promise.resolve("B"));
  equal(flight.size, 2);
  equal(await a, "A");
  equal(await b, "B");
  equal(flight.size, 0);
});

Deno.test("SingleFlight.run() runs again after the previous run resolved", async () => {
  const flight = new SingleFlight<number>();
  let runs = 0;
  const work = (): Promise<number> => Promise.resolve(++runs);
  equal(await flight.run("k", work), 1);
  equal(await flight.run("k", work), 2);
});

Deno.test("SingleFlight.run() rejects every sharer and clears the key after a rejection", async () => {
  const flight = new SingleFlight<string>();
  let runs = 0;
  const failing = (): Promise<string> => {
    runs++;
    return new Promise((_, reject) => setTimeout(() => reject(new Error("wake failed")), 0));
  };
  const a = flight.run("k", failing);
  const b = flight.run("k", failing);
  await rejects(a, /wake failed/);
  await rejects(b, /wake failed/);
  equal(runs, 1);
  equal(flight.size, 0);
  equal(await flight.run("k", () => Promise.resolve("second try")), "second try");
});

Deno.test("SingleFlight.run() clears the key when work throws before returning a promise", async () => {
  const flight = new SingleFlight<string>();
  const throwsAtOnce = (): Promise<string> => {
    throw new Error("bad input");
  };
  await rejects(flight.run("k", throwsAtOnce), /bad input/);
  equal(flight.size, 0, "a synchronous throw must not leave a stale rejected flight behind");
  equal(await flight.run("k", () => Promise.resolve("ran again")), "ran again");
});
