/**
 * The weight a deploy gives its instance once it is healthy: blue-green by default. Pure: the
 * supervisor (which applies it) and the API (which announces it) pass the weights in.
 * @module
 */
import { MAX_WEIGHT } from "./weights.ts";

/** What decides a deploy's weight. */
export interface DeployWeightInput {
  /** The weight the caller asked for (`--weight`), or undefined when it gave none. */
  readonly requested: number | undefined;
  /** The deployed instance's weight before the deploy; undefined when it is new. */
  readonly current: number | undefined;
  /** The weights of the service's other instances. */
  readonly others: readonly number[];
}

/**
 * The weight a deploy ends with. An explicit weight always wins. Without one, an instance that
 * already has traffic keeps its weight (a redeploy moves no traffic); otherwise the first
 * instance of a service with traffic gets 100, and a new version next to one that has traffic
 * gets 0, so traffic moves only with `ten route`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(deployWeight({ requested: undefined, current: undefined, others: [] }), 100);
 * equal(deployWeight({ requested: undefined, current: undefined, others: [100] }), 0);
 * equal(deployWeight({ requested: undefined, current: undefined, others: [0, 0] }), 100);
 * equal(deployWeight({ requested: 100, current: undefined, others: [100] }), 100);
 * equal(deployWeight({ requested: undefined, current: 30, others: [70] }), 30);
 * ```
 */
export function deployWeight(input: DeployWeightInput): number {
  if (input.requested !== undefined) return input.requested;
  if (input.current !== undefined && input.current > 0) return input.current;
  return input.others.some((w) => w > 0) ? 0 : MAX_WEIGHT;
}
