import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { InvalidInputError } from "./errors.ts";
import { assertWeight, MAX_WEIGHT, pickWeighted, type WeightedCandidate } from "./weights.ts";

/** `count` randoms evenly spaced over [0, 1): 0, 1/count, 2/count, … */
function evenlySpaced(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i / count);
}

function tally<T>(candidates: readonly WeightedCandidate<T>[], randoms: number[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const random of randoms) {
    const item = pickWeighted(candidates, random);
    if (item !== undefined) counts.set(item, (counts.get(item) ?? 0) + 1);
  }
  return counts;
}

Deno.test("assertWeight() accepts whole numbers from 0 to 100", () => {
  equal(MAX_WEIGHT, 100);
  for (const weight of [0, 1, 50, 99, 100]) equal(assertWeight(weight), weight);
});

Deno.test("assertWeight() rejects anything else with an InvalidInputError naming the field", () => {
  const bad: unknown[] = [-1, 101, 1.5, NaN, Infinity, -Infinity, "50", null, undefined, true, [
    50,
  ]];
  for (const value of bad) {
    throws(() => assertWeight(value), (err: unknown) => {
      ok(err instanceof InvalidInputError, `${String(value)}: ${String(err)}`);
      equal(err.field, "weight");
      equal(
        err.message,
        `Invalid weight ${JSON.stringify(value)}: expected a whole number from 0 to 100`,
      );
      return true;
    });
  }
  throws(
    () => assertWeight(200, "body.weight"),
    (err: unknown) => err instanceof InvalidInputError && err.field === "body.weight",
  );
});

Deno.test("pickWeighted() never returns a zero-weight or negative-weight instance", () => {
  const candidates = [
    { item: "zero-first", weight: 0 },
    { item: "a", weight: 1 },
    { item: "zero-middle", weight: 0 },
    { item: "negative", weight: -5 },
    { item: "b", weight: 99 },
    { item: "zero-last", weight: 0 },
  ];
  const counts = tally(candidates, [...evenlySpaced(10_000), 0.9999999999999999]);
  deepEqual([...counts.keys()].sort(), ["a", "b"]);
});

Deno.test("pickWeighted() returns undefined when no candidate has a positive weight", () => {
  equal(pickWeighted([], 0.5), undefined);
  equal(pickWeighted([{ item: "a", weight: 0 }, { item: "b", weight: 0 }], 0), undefined);
  equal(pickWeighted([{ item: "a", weight: -1 }], 0.5), undefined);
});

Deno.test("pickWeighted() over evenly spaced randoms yields exact proportions", async (t) => {
  const cases: [name: string, weights: number[], counts: number[]][] = [
    ["10/30/60", [10, 30, 60], [1000, 3000, 6000]],
    ["50/50", [50, 50], [5000, 5000]],
    ["100/0", [100, 0], [10_000, 0]],
    ["0/100", [0, 100], [0, 10_000]],
    ["1/99", [1, 99], [100, 9900]],
    // Shares that do not divide 10_000: the first third is i < 3333.33…, so i = 0..3333.
    ["1/2", [1, 2], [3334, 6666]],
    ["25 each", [25, 25, 25, 25], [2500, 2500, 2500, 2500]],
  ];
  for (const [name, weights, counts] of cases) {
    await t.step(name, () => {
      const candidates = weights.map((weight, item) => ({ item, weight }));
      const tallied = tally(candidates, evenlySpaced(10_000));
      deepEqual(weights.map((_, item) => tallied.get(item) ?? 0), counts);
    });
  }
});

Deno.test("pickWeighted() gives a cumulative boundary to the next candidate", () => {
  const candidates = [{ item: "a", weight: 30 }, { item: "b", weight: 70 }];
  equal(pickWeighted(candidates, 0), "a");
  equal(pickWeighted(candidates, 0.2999), "a");
  equal(pickWeighted(candidates, 0.3), "b");
  equal(pickWeighted(candidates, 0.9999999999999999), "b");
});

Deno.test("pickWeighted() with random at or past 1 returns the last positive candidate", () => {
  const candidates = [{ item: "a", weight: 50 }, { item: "b", weight: 50 }, {
    item: "c",
    weight: 0,
  }];
  equal(pickWeighted(candidates, 1), "b");
  equal(pickWeighted(candidates, 1.5), "b");
});
