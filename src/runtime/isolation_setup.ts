/**
 * The host-side checks and facts a namespace or sandbox start needs before its argv can be
 * built: the wrapper program is installed, the daemon may use it, which system paths exist, which
 * paths the sandbox shows read-only, and who owns the writable ones. Edge: reads the filesystem.
 * @module
 */
import { SpawnError } from "../core/errors.ts";
import { findSystemTool } from "./system_tool.ts";
import type { Isolation, Mount, Network } from "../config/schema.ts";
import { isWithin, type SandboxView, type SystemPath, type WrapUser } from "./launch_argv.ts";

/**
 * Last resort for a root daemon's sandbox started with no user at all (the launcher normally
 * gives it a uid of its own): `nobody`, never root.
 */
export const SANDBOX_FALLBACK_USER: WrapUser = { uid: 65534, gid: 65534 };

/** Top-level system paths a sandbox shows read-only (or as the same symlinks). */
const SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
/** Secrets under /etc that root-owned files would otherwise expose to a uid-0 owner. */
const MASKED_FILES = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"];
/** Directories under /etc hidden behind an empty tmpfs. */
const MASKED_DIRS = ["/etc/ssl/private", "/etc/tenement", "/etc/sudoers.d"];

/** What the launcher knows about one start, as far as isolation cares. */
export interface IsolationRequest {
  readonly isolation: Isolation;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly dataDir?: string | undefined;
  readonly instanceDir?: string | undefined;
  readonly socketPath?: string | undefined;
  readonly user?: WrapUser | undefined;
  readonly network?: Network | undefined;
  readonly mounts?: readonly Mount[] | undefined;
  /** The daemon's uid. @default {Deno.uid()} */
  readonly daemonUid?: number | undefined;
}

/** The extra inputs of `wrapArgv` for a namespace or sandbox. */
export interface IsolationPlan {
  /** Absolute path of the wrapper (`unshare` or `bwrap`), found in the system dirs. */
  readonly wrapperPath: string | undefined;
  readonly user: WrapUser | undefined;
  readonly socketDir: string | undefined;
  readonly view: SandboxView | undefined;
}

/** Checks the host and gathers what `wrapArgv` needs; throws SpawnError with the fix. */
export async function prepareIsolation(r: IsolationRequest): Promise<IsolationPlan> {
  const socketDir = ownSocketDir(r);
  const daemonUid = r.daemonUid ?? Deno.uid();
  if (r.isolation === "namespace") {
    if (daemonUid !== 0) {
      throw new SpawnError(
        'Cannot start with isolation = "namespace": it needs ten serve to run as root (new mount and PID namespaces need CAP_SYS_ADMIN); run the daemon as root, or use isolation = "sandbox" (works unprivileged where the kernel allows user namespaces) or isolation = "process"',
      );
    }
    const wrapperPath = await findSystemTool("unshare", "util-linux");
    return { wrapperPath, user: r.user, socketDir, view: undefined };
  }
  if (r.isolation !== "sandbox") {
    return { wrapperPath: undefined, user: r.user, socketDir, view: undefined };
  }
  const wrapperPath = await findSystemTool("bwrap", "bubblewrap");
  if (r.network === "none" && socketDir === undefined) {
    throw new SpawnError(
      `Cannot start with network = "none": the app is reached through its Unix socket, which needs a directory of its own (socket ${
        JSON.stringify(r.socketPath ?? "")
      }); set socket = "{data_dir}/run/{name}.{id}/app.sock"`,
    );
  }
  for (const m of r.mounts ?? []) {
    if (!await exists(m.source)) {
      throw new SpawnError(
        `Cannot start: mount source ${JSON.stringify(m.source)} does not exist (mounted at ${
          JSON.stringify(m.destination)
        }); create it or fix mounts`,
      );
    }
  }
  // A root daemon never runs a sandbox as root: bwrap then runs as an unprivileged user (in a
  // user namespace), so the app cannot act as root on anything bound into it.
  const user = r.user ?? (daemonUid === 0 ? SANDBOX_FALLBACK_USER : undefined);
  if (user !== undefined && r.user === undefined) {
    for (const dir of [r.instanceDir, socketDir]) {
      if (dir !== undefined) await ensureOwner(dir, user);
    }
  }
  const view = await sandboxView(r);
  if (user !== undefined) {
    const needed = [r.instanceDir, socketDir, ...view.readonlyPaths];
    for (const m of r.mounts ?? []) needed.push(m.source);
    for (const path of needed) if (path !== undefined) await checkReachable(path, user);
  }
  return { wrapperPath, user, socketDir, view };
}

/**
 * Throws when `user` cannot enter every directory above `path`: bwrap runs as that user and
 * binds the path from the host, so a 0700 parent (a temp dir, /root) stops it.
 */
async function checkReachable(path: string, user: WrapUser): Promise<void> {
  const parts = path.split("/").filter((p) => p !== "");
  for (let i = 0; i < parts.length; i++) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(dir);
    } catch {
      return;
    }
    const mode = info.mode ?? 0o777;
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) {
      throw new SpawnError(
        `Cannot start in a sandbox: uid ${user.uid} cannot reach ${JSON.stringify(path)} (${
          JSON.stringify(dir)
        } has mode ${
          (mode & 0o777).toString(8).padStart(4, "0")
        }); let other users through it (chmod o+x ${dir}) or move the path`,
      );
    }
  }
}

/**
 * The socket's directory when it belongs to this instance alone (bound into a namespace or
 * sandbox); undefined when it is shared (the data dir, `{data_dir}/run` with the API socket,
 * `/tmp`), which is never bound.
 */
export function ownSocketDir(
  r: Pick<IsolationRequest, "socketPath" | "dataDir" | "instanceDir">,
): string | undefined {
  if (r.socketPath === undefined) return undefined;
  const dir = r.socketPath.slice(0, r.socketPath.lastIndexOf("/")) || "/";
  const shared = ["/", "/tmp", "/run", "/var/run"];
  if (r.dataDir !== undefined) shared.push(r.dataDir, `${r.dataDir}/run`);
  if (shared.some((s) => isWithin(s, dir))) return undefined;
  if (r.instanceDir !== undefined && isWithin(r.instanceDir, dir)) return undefined;
  return dir;
}

async function sandboxView(r: IsolationRequest): Promise<SandboxView> {
  const systemPaths: SystemPath[] = [];
  for (const path of SYSTEM_PATHS) {
    try {
      const info = await Deno.lstat(path);
      if (info.isSymlink) systemPaths.push({ path, linkTarget: await Deno.readLink(path) });
      else if (info.isDirectory) systemPaths.push({ path });
    } catch {
      // Not on this system.
    }
  }
  const maskedFiles = [];
  for (const file of MASKED_FILES) if (await exists(file)) maskedFiles.push(file);
  const maskedDirs = [];
  for (const dir of MASKED_DIRS) if (await exists(dir)) maskedDirs.push(dir);
  return { systemPaths, maskedFiles, maskedDirs, readonlyPaths: await readonlyPaths(r) };
}

/**
 * The workdir, the program's directory and the directories of absolute file arguments (the
 * script of `python3 /srv/app/main.py`), unless a system dir, the instance's dir or another
 * part of the data dir already covers them.
 */
async function readonlyPaths(r: IsolationRequest): Promise<string[]> {
  const candidates = [r.cwd];
  for (const [index, arg] of r.argv.entries()) {
    if (!arg.startsWith("/")) continue;
    try {
      const info = await Deno.stat(arg);
      if (info.isDirectory && index > 0) candidates.push(arg);
      else if (info.isFile) candidates.push(arg.slice(0, arg.lastIndexOf("/")) || "/");
    } catch {
      // Not a path on this host.
    }
  }
  const system = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev"];
  const paths: string[] = [];
  for (const path of candidates) {
    if (path === "/" || system.some((s) => isWithin(path, s))) continue;
    if (r.dataDir !== undefined && isWithin(path, r.dataDir)) continue;
    if (r.instanceDir !== undefined && isWithin(path, r.instanceDir)) continue;
    if (!paths.includes(path) && await exists(path)) paths.push(path);
  }
  return paths.filter((p) => !paths.some((q) => q !== p && isWithin(p, q)));
}

async function ensureOwner(dir: string, user: WrapUser): Promise<void> {
  try {
    const info = await Deno.stat(dir);
    if (info.uid !== user.uid || info.gid !== user.gid) await Deno.chown(dir, user.uid, user.gid);
  } catch (err: unknown) {
    throw new SpawnError(
      `Cannot start: cannot give ${
        JSON.stringify(dir)
      } to uid ${user.uid}, which the sandbox runs as`,
      { cause: err },
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
