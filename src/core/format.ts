/**
 * Human formats for durations and sizes, shared by `ten ps` and the dashboard. Pure: no I/O.
 * @module
 */

/**
 * Formats a duration as `Ns`, `Nm`, `Nh` or `Nd` (whole units, rounded down), as `ten ps` shows it.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual([59, 60, 3599, 3600, 86400].map(formatDuration), ["59s", "1m", "59m", "1h", "1d"]);
 * ```
 */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * Formats a byte count with binary units.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(formatBytes(1536), "1.5 KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
