/**
 * Traffic weights: validation and weighted choice. Pure: randomness is passed in.
 * @module
 */
import { InvalidInputError } from "./errors.ts";

/** Highest weight; weights are percentages-like shares from 0 to 100. */
export const MAX_WEIGHT = 100;

/** Throws InvalidInputError unless `value` is an integer from 0 to 100. */
export function assertWeight(value: unknown, field = "weight"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_WEIGHT) {
    throw new InvalidInputError(
      `Invalid weight ${JSON.stringify(value)}: expected a whole number from 0 to ${MAX_WEIGHT}`,
      field,
    );
  }
  return value;
}

/** A choice candidate. */
export interface WeightedCandidate<T> {
  readonly item: T;
  readonly weight: number;
}

/**
 * Picks one candidate with probability proportional to its weight. Candidates with weight 0 are
 * never picked; returns undefined when no candidate has a positive weight.
 * @param random a number in [0, 1)
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const c = [{ item: "a", weight: 0 }, { item: "b", weight: 30 }, { item: "c", weight: 70 }];
 * equal(pickWeighted(c, 0), "b");
 * equal(pickWeighted(c, 0.3), "c");
 * equal(pickWeighted([{ item: "a", weight: 0 }], 0.5), undefined);
 * ```
 */
export function pickWeighted<T>(
  candidates: readonly WeightedCandidate<T>[],
  random: number,
): T | undefined {
  let total = 0;
  for (const c of candidates) if (c.weight > 0) total += c.weight;
  if (total <= 0) return undefined;
  let point = random * total;
  let last: T | undefined;
  for (const c of candidates) {
    if (c.weight <= 0) continue;
    last = c.item;
    if (point < c.weight) return c.item;
    point -= c.weight;
  }
  return last;
}
