/**
 * Times of `ten logs`: `--since`/`--until` values (a duration ago such as `10m`, or an ISO 8601
 * date) and the time printed before each line (local time unless `--utc`). Pure: the current
 * time comes in as an argument.
 * @module
 */
import { parseDurationText } from "../config/capacity_fields.ts";

/**
 * Unix ms of a `--since`/`--until` value at `nowMs`: `"10m"`, `"2h"`, `"7d"`, `"90s"` ago, or an
 * ISO 8601 date or date-time; undefined when it is neither.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parseLogTime("10m", 1_000_000), 400_000);
 * equal(parseLogTime("2026-01-02T03:04:05Z", 0), Date.UTC(2026, 0, 2, 3, 4, 5));
 * equal(parseLogTime("yesterday", 0), undefined);
 * ```
 */
export function parseLogTime(text: string, nowMs: number): number | undefined {
  const trimmed = text.trim();
  if (/^\d{4}-\d\d-\d\d/.test(trimmed)) {
    const ms = Date.parse(trimmed);
    return Number.isFinite(ms) ? ms : undefined;
  }
  const ago = /^\d+\s*[smhd]$/.test(trimmed) ? parseDurationText(trimmed) : undefined;
  return ago === undefined ? undefined : nowMs - ago;
}

/**
 * `HH:MM:SS` of `ms`, with the date before it when the line is not from the day of `nowMs`; in
 * local time, or UTC with `isUtc`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const now = Date.UTC(2026, 0, 2, 12);
 * equal(formatLogTime(Date.UTC(2026, 0, 2, 3, 4, 5), { isUtc: true, nowMs: now }), "03:04:05");
 * equal(
 *   formatLogTime(Date.UTC(2026, 0, 1, 3, 4, 5), { isUtc: true, nowMs: now }),
 *   "2026-01-01 03:04:05",
 * );
 * ```
 */
export function formatLogTime(ms: number, options: { isUtc: boolean; nowMs: number }): string {
  const [date, time] = parts(ms, options.isUtc);
  const [today] = parts(options.nowMs, options.isUtc);
  return date === today ? time : `${date} ${time}`;
}

function parts(ms: number, isUtc: boolean): [date: string, time: string] {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, "0");
  const [y, mo, day, h, mi, s] = isUtc
    ? [
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
    ]
    : [
      d.getFullYear(),
      d.getMonth() + 1,
      d.getDate(),
      d.getHours(),
      d.getMinutes(),
      d.getSeconds(),
    ];
  return [`${y}-${two(mo)}-${two(day)}`, `${two(h)}:${two(mi)}:${two(s)}`];
}
