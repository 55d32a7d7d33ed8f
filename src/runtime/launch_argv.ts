/**
 * The command line that starts an instance: the app's argv wrapped, outermost first, in what
 * puts it in its cgroup (before the app's first instruction), in its namespaces or sandbox, and
 * under its own user. Pure: no I/O; the launcher looks up programs and paths and passes them in.
 *
 * Order: cgroup join → `unshare` (namespace) → `setpriv` user drop → app; for a sandbox the user
 * drop comes before `bwrap`, so bwrap itself runs unprivileged (in a user namespace) and the app
 * never holds real root over the files bound into it.
 * @module
 */
import type { Isolation, Mount, Network } from "../config/schema.ts";

/** The user an instance runs as (same shape as the supervisor's `LaunchUser`). */
export interface WrapUser {
  readonly uid: number;
  readonly gid: number;
}

/** A top-level system path as the launcher found it on the host. */
export interface SystemPath {
  /** Absolute path, e.g. `/usr` or `/lib64`. */
  readonly path: string;
  /** The symlink's target when the path is a symlink (`usr/lib`), else undefined. */
  readonly linkTarget?: string | undefined;
}

/** What a sandbox shows of the host, found by the launcher. */
export interface SandboxView {
  /** System dirs bound read-only (or recreated as symlinks). */
  readonly systemPaths: readonly SystemPath[];
  /** Files under `/etc` to hide (bound over with an empty file). */
  readonly maskedFiles: readonly string[];
  /** Dirs under `/etc` to hide (an empty tmpfs over each). */
  readonly maskedDirs: readonly string[];
  /** Further host paths shown read-only: the app's workdir and program dirs outside `/usr`. */
  readonly readonlyPaths: readonly string[];
}

/** What {@link wrapArgv} needs. */
export interface WrapInputs {
  /** The app's argv, program first (already resolved to a path). */
  readonly argv: readonly string[];
  readonly isolation: Isolation;
  readonly user?: WrapUser | undefined;
  /** Absolute path of `setpriv`, found by the launcher. @default {"setpriv"} */
  readonly setprivPath?: string | undefined;
  /**
   * Absolute path of the namespace or sandbox wrapper (`unshare` or `bwrap`), found by the
   * launcher. @default {"unshare" or "bwrap"}
   */
  readonly wrapperPath?: string | undefined;
  /** `cgroup.procs` files to join first. */
  readonly cgroupProcs?: readonly string[] | undefined;
  /** The daemon's `data_dir` (hidden inside a namespace or sandbox but for the instance's own). */
  readonly dataDir?: string | undefined;
  /** The instance's data dir (writable inside). */
  readonly instanceDir?: string | undefined;
  /** The directory of the instance's Unix socket (writable inside), when it is its own. */
  readonly socketDir?: string | undefined;
  /** The app's working directory. */
  readonly cwd?: string | undefined;
  /** Sandbox only: `"none"` gives it no network. @default {"host"} */
  readonly network?: Network | undefined;
  /** Sandbox only: extra binds from the service's `mounts`. */
  readonly mounts?: readonly Mount[] | undefined;
  /** Sandbox only: what it shows of the host. */
  readonly view?: SandboxView | undefined;
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
 * Runs as PID 1 of a new mount and PID namespace: `sh -c HIDE sh DATA_DIR WORKDIR N K1..KN
 * K1..KN APP...`. It puts an empty tmpfs over DATA_DIR (tenement's files and the other tenants'
 * dirs vanish) and binds back only the N kept paths, staged on a private tmpfs meanwhile; then
 * enters WORKDIR again (the old one may lie under the hidden tree) and runs the app as its child.
 * The shell stays PID 1: an app as PID 1 would ignore SIGTERM without a handler, and when the
 * shell exits the kernel kills whatever the app left in the namespace. Paths only ever arrive as
 * arguments, never as code. Exit 125 when a step fails.
 */
const HIDE_DATA_DIR = [
  'd=$1; w=$2; n=$3; shift 3; st=""',
  'for c in /mnt /media /srv /opt /tmp; do if [ -d "$c" ]; then st=$c; break; fi; done',
  'fail() { echo "tenement: namespace set-up failed: $1" >&2; exit 125; }',
  '[ -n "$st" ] || fail "no directory to stage mounts on"',
  'mount -t tmpfs -o mode=0700,nosuid,nodev tenement-stage "$st" || fail "tmpfs on $st"',
  'i=0; while [ "$i" -lt "$n" ]; do mkdir "$st/$i" && mount --bind "$1" "$st/$i" || fail "bind $1"; shift; i=$((i+1)); done',
  'mount -t tmpfs -o mode=0755,nosuid,nodev tenement-hidden "$d" || fail "tmpfs on $d"',
  'i=0; while [ "$i" -lt "$n" ]; do mkdir -p "$1" && mount --bind "$st/$i" "$1" || fail "bind back $1"; shift; i=$((i+1)); done',
  'umount -l "$st" || fail "unmount $st"',
  'cd "$w" || fail "cd $w"',
  '"$@"',
].join("\n");

/** True when `path` is `dir` or lies under it. */
export function isWithin(path: string, dir: string): boolean {
  const base = dir.endsWith("/") ? dir.slice(0, -1) : dir;
  return path === base || path.startsWith(`${base}/`);
}

/**
 * The paths under `dataDir` to keep visible, outermost only: one nested in another is covered
 * by binding its parent.
 */
export function keptPaths(dataDir: string, candidates: readonly (string | undefined)[]): string[] {
  const under = [...new Set(candidates.filter((p): p is string => p !== undefined))]
    .filter((p) => isWithin(p, dataDir) && p !== dataDir);
  return under.filter((p) => !under.some((q) => q !== p && isWithin(p, q)));
}

/** `unshare` with new PID (forked), mount (fresh `/proc`), IPC and UTS namespaces. */
function namespacePrefix(w: WrapInputs): string[] {
  const unshare = [
    w.wrapperPath ?? "unshare",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount",
    "--propagation",
    "private",
    "--mount-proc",
    "--ipc",
    "--uts",
    "--",
  ];
  const cwd = w.cwd ?? "/";
  if (w.dataDir === undefined) return [...unshare, "/bin/sh", "-c", '"$@"', "sh"];
  const kept = keptPaths(w.dataDir, [w.instanceDir, w.socketDir, w.cwd]);
  return [
    ...unshare,
    "/bin/sh",
    "-c",
    HIDE_DATA_DIR,
    "sh",
    w.dataDir,
    cwd,
    String(kept.length),
    ...kept,
    ...kept,
  ];
}

/** `bwrap` arguments for a sandbox: read-only system, private `/tmp`, the instance dir writable. */
function sandboxPrefix(w: WrapInputs): string[] {
  const view = w.view ?? { systemPaths: [], maskedFiles: [], maskedDirs: [], readonlyPaths: [] };
  const args = [w.wrapperPath ?? "bwrap", "--unshare-all"];
  if ((w.network ?? "host") === "host") args.push("--share-net");
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  for (const sys of view.systemPaths) {
    if (sys.linkTarget !== undefined) args.push("--symlink", sys.linkTarget, sys.path);
    else args.push("--ro-bind", sys.path, sys.path);
  }
  for (const file of view.maskedFiles) args.push("--ro-bind", "/dev/null", file);
  for (const dir of view.maskedDirs) args.push("--tmpfs", dir);
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  for (const path of view.readonlyPaths) args.push("--ro-bind", path, path);
  // A workdir that holds the data dir (the default `./data` beside tenement.toml) must not show
  // it: an empty tmpfs covers it again before the instance's own dirs are bound in.
  const dataDir = w.dataDir;
  if (dataDir !== undefined && view.readonlyPaths.some((p) => isWithin(dataDir, p))) {
    args.push("--tmpfs", dataDir);
  }
  for (const path of [w.instanceDir, w.socketDir]) {
    if (path !== undefined) args.push("--bind", path, path);
  }
  for (const m of w.mounts ?? []) {
    args.push(m.readonly ? "--ro-bind" : "--bind", m.source, m.destination);
  }
  // The sandbox's own root (a tmpfs holding the mount points) is read-only too.
  args.push("--remount-ro", "/", "--chdir", w.cwd ?? "/", "--");
  return args;
}

/**
 * The full argv for `w` (the sandbox inherits the environment the launcher gives the process:
 * the instance's own, never the daemon's).
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
  const cgroup = cgroupJoinPrefix(w.cgroupProcs);
  const drop = dropUserPrefix(w.user, w.setprivPath);
  switch (w.isolation) {
    case "process":
      return [...cgroup, ...drop, ...w.argv];
    case "namespace":
      return [...cgroup, ...namespacePrefix(w), ...drop, ...w.argv];
    case "sandbox":
      return [...cgroup, ...drop, ...sandboxPrefix(w), ...w.argv];
    default:
      throw new Error(`isolation = ${JSON.stringify(w.isolation)} is not supported by wrapArgv`);
  }
}
