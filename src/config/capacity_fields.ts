/**
 * Config fields of the capacity keys: per-client rates (`"30/min"`) and durations written as
 * text (`"7d"`) or as a number of seconds. Pure.
 * @module
 */
import { parseRate, type Rate } from "../core/client_rate.ts";
import type { Field } from "./config_fields.ts";

/** A per-client rate such as `"30/min"`, or `"0"` / `0` for unlimited. */
export const RATE: Field<Rate> = {
  expected: 'a rate such as "30/min" (per "s", "min" or "h"), or "0" for no limit',
  convert: (raw) =>
    raw === 0 ? parseRate("0") : typeof raw === "string" ? parseRate(raw) : undefined,
  isText: true,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Milliseconds of a duration written as `"90s"`, `"30m"`, `"12h"`, `"7d"` or `"0"`; undefined
 * otherwise.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parseDurationText("7d"), 7 * 86_400_000);
 * equal(parseDurationText("0"), 0);
 * equal(parseDurationText("7 days"), undefined);
 * ```
 */
export function parseDurationText(text: string): number | undefined {
  const match = /^(\d{1,9})\s*([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = match[2] === "" ? 1_000 : DURATION_UNITS[match[2]!]!;
  return Number(match[1]) * unit;
}

/** A duration: `"7d"`, `"12h"`, `"30m"`, `"90s"`, or a whole number of seconds; 0 is allowed. */
export const DURATION_TEXT: Field<number> = {
  expected: 'a duration such as "7d", "12h", "30m" or "90s" (0: never)',
  convert: (raw) =>
    typeof raw === "number"
      ? (Number.isSafeInteger(raw) && raw >= 0 ? raw * 1000 : undefined)
      : typeof raw === "string"
      ? parseDurationText(raw)
      : undefined,
  isText: true,
};
