/**
 * The command line that starts an instance: the app's argv wrapped, outermost first, in what
 * puts it in its cgroup (before the app's first instruction), in its namespaces or sandbox, and
 * under its own user. Pure: no I/O; the programs are looked up by the launcher.
 * @module
 */
import type { Isolation } from "../config/schema.ts";

/** The user an instance runs as (same shape as the supervisor's `LaunchUser`). */
export interface WrapUser {
  readonly uid: number;
  readonly gid: number;
}

/** What {@link wrapArgv} needs. */
export interface WrapInputs {
  /** The app's argv, program first (already resolved to a path). */
  readonly argv: readonly string[];
  readonly isolation: Isolation;
  readonly user?: WrapUser | undefined;
  /** Absolute path of `setpriv`, found by the launcher. @default {"setpriv"} */
  readonly setprivPath?: string | undefined;
  /** `cgroup.procs` files to join first. */
  readonly cgroupProcs?: readonly string[] | undefined;
}

/**
 * `sh -c` that writes its own pid to each of the first `n` arguments, then execs the rest: the
 * process is in every cgroup before the app (or any wrapper) runs, so nothing escapes the limits.
 * Exit 125 when a write fails.
 */
const JOIN_CGROUPS =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';

/** Prefix that joins `procsFiles` before exec; empty without files. */
export function cgroupJoinPrefix(procsFiles: readonly string[] | undefined): string[] {
  if (procsFiles === undefined || procsFiles.length === 0) return [];
  return ["/bin/sh", "-c", JOIN_CGROUPS, "sh", String(procsFiles.length), ...procsFiles];
}

/**
 * Prefix that drops to `user` (real, effective and saved ids, no supplementary groups, no new
 * privileges) before exec; empty without a user.
 */
export function dropUserPrefix(user: WrapUser | undefined, setprivPath = "setpriv"): string[] {
  if (user === undefined) return [];
  return [
    setprivPath,
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--clear-groups",
    "--no-new-privs",
    "--",
  ];
}

/**
 * The full argv for `w`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(wrapArgv({ argv: ["/usr/bin/app"], isolation: "process" }), ["/usr/bin/app"]);
 * deepEqual(
 *   wrapArgv({ argv: ["/usr/bin/app"], isolation: "process", user: { uid: 61200, gid: 61200 } }),
 *   ["setpriv", "--reuid=61200", "--regid=61200", "--clear-groups", "--no-new-privs", "--", "/usr/bin/app"],
 * );
 * ```
 */
export function wrapArgv(w: WrapInputs): string[] {
  if (w.isolation !== "process") {
    throw new Error(`isolation = ${JSON.stringify(w.isolation)} is not supported by wrapArgv`);
  }
  return [...cgroupJoinPrefix(w.cgroupProcs), ...dropUserPrefix(w.user, w.setprivPath), ...w.argv];
}
