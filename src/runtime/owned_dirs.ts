/**
 * Directories given to an instance's user: its data dir and its socket's dir, owned by it with
 * mode 0700, and the directories above them root-owned 0711 (others may enter, not list).
 * Never follows a symbolic link: a link inside is left as it is, a link in place of the
 * directory itself is refused.
 * @module
 */
import { SpawnError } from "../core/errors.ts";

/** An owner: uid and gid. */
export interface DirOwner {
  readonly uid: number;
  readonly gid: number;
}

/** `mkdir -p` then exactly `mode` (the umask may have taken bits). */
export async function ensureDirMode(path: string, mode: number): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode });
  await Deno.chmod(path, mode);
}

/**
 * Makes `path` a directory owned by `owner` with mode 0700. When its owner differs (data from
 * a run as another user), its whole tree is given to `owner` first.
 */
export async function ensureOwnedDir(path: string, owner: DirOwner): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  const info = await Deno.lstat(path);
  if (!info.isDirectory) {
    throw new SpawnError(
      `Cannot prepare ${path}: it is not a directory (a link or a file is there)`,
    );
  }
  if (info.uid !== owner.uid || info.gid !== owner.gid) await chownTree(path, owner);
  await Deno.chmod(path, 0o700);
}

/**
 * `chown -R` that never follows a link (Deno has no lchown: links keep their owner), and leaves
 * a file with several hard links as it is: where `fs.protected_hardlinks` is off, a tenant can
 * link any file it reaches by path (`/etc/shadow`) into its dir for root to give it.
 */
async function chownTree(path: string, owner: DirOwner): Promise<void> {
  const info = await Deno.lstat(path);
  if (info.isSymlink) return;
  if (!info.isDirectory && (info.nlink ?? 1) > 1) return;
  await Deno.chown(path, owner.uid, owner.gid);
  if (!info.isDirectory) return;
  for await (const entry of Deno.readDir(path)) {
    await chownTree(`${path}/${entry.name}`, owner);
  }
}
