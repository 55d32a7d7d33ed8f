/**
 * The daemon's file-descriptor limit, checked at start against `max_connections`: every client
 * connection holds a descriptor, and so does every upstream connection, instance pipe and open
 * file. Below the cap, accepts fail with "too many open files" long before the cap is reached.
 * Edge: reads `/proc/self/limits` (Linux); elsewhere the check is skipped.
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["tenement", "daemon"]);

/** Descriptors kept for everything but client connections: upstreams, instances, files. */
export const RESERVED_DESCRIPTORS = 1024;

/**
 * The soft "Max open files" limit in `/proc/self/limits` text; Infinity for "unlimited",
 * undefined when the line is missing.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const text = "Limit   Soft Limit   Hard Limit   Units\nMax open files   1024   524288   files\n";
 * equal(softOpenFilesLimit(text), 1024);
 * equal(softOpenFilesLimit("Max open files  unlimited  unlimited  files"), Infinity);
 * equal(softOpenFilesLimit(""), undefined);
 * ```
 */
export function softOpenFilesLimit(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\S+)/m.exec(limitsText);
  if (!match) return undefined;
  if (match[1] === "unlimited") return Infinity;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Logs a warning when the open-files limit is below `maxConnections` plus
 * {@linkcode RESERVED_DESCRIPTORS}; returns the limit (undefined when unknown).
 */
export async function checkDescriptorLimit(maxConnections: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile("/proc/self/limits");
  } catch {
    return undefined;
  }
  const limit = softOpenFilesLimit(text);
  if (limit !== undefined && limit < maxConnections + RESERVED_DESCRIPTORS) {
    log.warn(
      "The open-files limit ({limit}) is below max_connections ({max}) plus {reserved} for upstream " +
        "connections and instances: connections will fail with 'too many open files' before the " +
        "cap. Raise it (ulimit -n, or LimitNOFILE= in the systemd unit) or lower " +
        "[settings] max_connections.",
      { limit, max: maxConnections, reserved: RESERVED_DESCRIPTORS },
    );
  }
  return limit;
}
