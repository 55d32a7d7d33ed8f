/**
 * `ten token-gen --expires`: a duration from now (`30d`, `12h`, `90m`, `2w`) or an ISO 8601 date
 * or time (`2027-01-31`, `2027-01-31T12:00:00Z`). Pure: the current time comes in.
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";

const UNIT_MS: Readonly<Record<string, number>> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * When a token given `--expires text` at `nowMs` expires, in unix ms; a date without a time
 * means its midnight UTC.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parseExpiry("30d", 0), 30 * 86_400_000);
 * equal(parseExpiry("2027-01-31", 0), Date.UTC(2027, 0, 31));
 * ```
 */
export function parseExpiry(text: string, nowMs: number): number {
  const trimmed = text.trim();
  const duration = /^(\d+)\s*([mhdw])$/.exec(trimmed);
  let atMs: number;
  if (duration) {
    atMs = nowMs + Number(duration[1]) * UNIT_MS[duration[2]!]!;
  } else if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) {
    atMs = Date.parse(trimmed.replace(" ", "T"));
  } else {
    atMs = Number.NaN;
  }
  if (!Number.isFinite(atMs)) {
    throw new InvalidInputError(
      `Invalid --expires ${
        JSON.stringify(text)
      }: expected a duration (30d, 12h, 90m, 2w) or an ISO 8601 date or time (2027-01-31, 2027-01-31T12:00:00Z)`,
      "expires",
    );
  }
  if (atMs <= nowMs) {
    throw new InvalidInputError(
      `Invalid --expires ${JSON.stringify(text)}: ${
        new Date(atMs).toISOString()
      } is not in the future`,
      "expires",
    );
  }
  return atMs;
}
