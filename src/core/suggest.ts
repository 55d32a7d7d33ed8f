/**
 * Did-you-mean suggestions for misspelt keys and values, by edit distance. Pure: no I/O.
 * @module
 */

/**
 * Returns the candidate closest to `word`, or undefined when none is close enough.
 *
 * Distance is the optimal string alignment (Damerau-Levenshtein with adjacent transpositions),
 * compared case-insensitively. A candidate qualifies when its distance is at most
 * `max(1, floor(word.length / 3))`; ties go to the earlier candidate.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(suggest("idle_timout", ["health", "idle_timeout"]), "idle_timeout");
 * equal(suggest("restrat", ["restart"]), "restart");
 * equal(suggest("zzz", ["restart"]), undefined);
 * ```
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  const needle = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
 * adjacent characters each cost 1.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(editDistance("ab", "ba"), 1);
 * equal(editDistance("kitten", "sitting"), 3);
 * ```
 */
export function editDistance(a: string, b: string): number {
  // Three rolling rows: the transposition case looks two rows back.
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, beforePrevious[j - 2]! + 1);
      }
      current.push(distance);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length]!;
}
