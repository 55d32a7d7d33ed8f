/**
 * Whether a root daemon may connect to an instance's Unix socket. The proxy connects as root, so
 * a path the instance's user can change (its socket replaced by a link to `/var/run/docker.sock`
 * or any other root-only socket) would lend the tenant root's reach. Once the app listens, its own
 * socket dir is taken back (root-owned, 0700: the app keeps its listening socket, nothing in the
 * dir can be swapped any more); then the socket must be a socket of the instance's user, in
 * directories that user cannot change. Edge: reads and changes the file system.
 * @module
 */
import type { DirOwner } from "./owned_dirs.ts";

/** The run whose socket is checked. */
export interface SocketRun {
  readonly socketPath: string;
  /** The socket's own dir (default template), taken back from the user; undefined otherwise. */
  readonly socketDir: string | undefined;
  /** The instance's user. */
  readonly user: DirOwner;
}

/** True when the proxy may connect to `run.socketPath`; see the module doc. */
export async function trustInstanceSocket(run: SocketRun): Promise<boolean> {
  try {
    if (run.socketDir !== undefined) {
      if (!(await Deno.lstat(run.socketDir)).isDirectory) return false;
      await Deno.chown(run.socketDir, 0, 0);
      await Deno.chmod(run.socketDir, 0o700);
    }
    const dir = parentOf(run.socketPath);
    for (const start of [dir, await Deno.realPath(dir)]) {
      if (await isChangeableBy(start, run.user, true)) return false;
      for (let path = parentOf(start); path !== start && path !== ""; path = parentOf(path)) {
        if (await isChangeableBy(path, run.user, false)) return false;
        if (path === "/") break;
      }
    }
    const socket = await Deno.lstat(run.socketPath);
    return socket.isSocket === true && socket.uid === run.user.uid;
  } catch {
    return false;
  }
}

/**
 * True when `user` may add, remove or rename entries of directory `path` (a world-writable
 * sticky dir only lets it touch its own entries: enough to swap the socket itself when it is
 * `isSocketDir`, not to swap a directory above it that someone else owns).
 */
async function isChangeableBy(
  path: string,
  user: DirOwner,
  isSocketDir: boolean,
): Promise<boolean> {
  const info = await Deno.lstat(path);
  if (info.isSymlink) return false;
  const mode = info.mode ?? 0o777;
  if (info.uid === user.uid) return true;
  if (info.gid === user.gid && (mode & 0o020) !== 0) return true;
  if ((mode & 0o002) === 0) return false;
  return isSocketDir || (mode & 0o1000) === 0;
}

function parentOf(path: string): string {
  const index = path.lastIndexOf("/");
  return index <= 0 ? "/" : path.slice(0, index);
}
