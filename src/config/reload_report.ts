/**
 * What a config reload did, and the lines that tell it: the daemon logs them on SIGHUP and
 * `ten reload` prints them. Pure.
 * @module
 */
import type { ConfigDiff } from "./config_diff.ts";

/** An instance whose process still runs from a definition the reload replaced or removed. */
export interface OutdatedInstance {
  /** `service:id`. */
  readonly instance: string;
  /** Its service is no longer in the config. */
  readonly isServiceRemoved: boolean;
}

/** The outcome of a good reload. */
export interface ReloadReport extends ConfigDiff {
  /** The config file that was read. */
  readonly path: string;
  readonly outdated: readonly OutdatedInstance[];
  /** Warnings about the new file (keys that are set but do nothing yet). */
  readonly warnings: readonly string[];
}

/** The outcome of a reload: the report, or why the file was refused (nothing changed then). */
export type ReloadOutcome =
  | { readonly isApplied: true; readonly report: ReloadReport }
  | {
    readonly isApplied: false;
    /** The problems, as `ten config` shows them (`file:line:column: ...`). */
    readonly message: string;
  };

/** Said after the problems of a refused file. */
export const NOTHING_CHANGED = "nothing was changed: the daemon keeps running the previous config";

/**
 * The report as lines, e.g. `changed: notes (command, env)` and `notes:alice runs the previous
 * definition; ten restart notes:alice to apply`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(describeReload({
 *   path: "/srv/tenement.toml", added: [], changed: [{ service: "notes", keys: ["command"] }],
 *   removed: [], settings: [], needsRestart: [], isInstancesChanged: false, warnings: [],
 *   outdated: [{ instance: "notes:alice", isServiceRemoved: false }],
 * }), [
 *   "Reloaded /srv/tenement.toml",
 *   "  changed: notes (command)",
 *   "notes:alice runs the previous definition; ten restart notes:alice to apply",
 * ]);
 * ```
 */
export function describeReload(report: ReloadReport): string[] {
  const lines: string[] = [];
  const hasChanges = report.added.length + report.changed.length + report.removed.length +
          report.settings.length + report.needsRestart.length > 0 || report.isInstancesChanged;
  lines.push(`Reloaded ${report.path}${hasChanges ? "" : ": no changes"}`);
  if (report.added.length > 0) lines.push(`  added: ${report.added.join(", ")}`);
  for (const change of report.changed) {
    lines.push(`  changed: ${change.service} (${change.keys.join(", ")})`);
  }
  if (report.removed.length > 0) lines.push(`  removed: ${report.removed.join(", ")}`);
  if (report.settings.length > 0) lines.push(`  settings: ${report.settings.join(", ")}`);
  if (report.isInstancesChanged) {
    lines.push(
      "  [instances] changed: it applies when the daemon starts; ten spawn starts one now",
    );
  }
  for (const { instance, isServiceRemoved } of report.outdated) {
    lines.push(
      isServiceRemoved
        ? `${instance} runs a removed service: it keeps running until ten stop ${instance}, and cannot be started again`
        : `${instance} runs the previous definition; ten restart ${instance} to apply`,
    );
  }
  if (report.needsRestart.length > 0) {
    lines.push(
      `Needs a daemon restart (ignored until then): ${report.needsRestart.join(", ")}`,
    );
  }
  return lines;
}
