/**
 * Private files written atomically: a temp file in the same directory (mode 0600), flushed to
 * disk, then renamed over the target, so a crash leaves the old file or the new one, never half
 * of one; and private directories (mode 0700 whatever the umask). Symbolic links inside the store
 * are refused, never followed.
 * @module
 */
import { writePrivateFileAtomic as writeAtomic } from "../store/private_files.ts";

/**
 * Throws when `path` is a symbolic link: inside the store nothing is followed, so a link planted
 * there cannot redirect keys elsewhere or make a chmod touch another file.
 */
export async function assertNotSymlink(path: string): Promise<void> {
  const info = await Deno.lstat(path).catch((err: unknown) => {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  });
  if (info?.isSymlink) {
    throw new Error(`${path} is a symbolic link; the certificate store follows none`);
  }
}

/**
 * Creates `path` (and its parents) if missing and sets it to mode 0700. A symbolic link at
 * `path` is refused unless `isSymlinkAllowed` (the store's own root, which the operator picks).
 */
export async function ensurePrivateDir(
  path: string,
  options: { readonly isSymlinkAllowed?: boolean } = {},
): Promise<void> {
  if (!options.isSymlinkAllowed) await assertNotSymlink(path);
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  await Deno.chmod(path, 0o700);
}

/** Writes `text` to `path` atomically with mode 0600; a symbolic link at `path` is refused. */
export async function writePrivateFileAtomic(path: string, text: string): Promise<void> {
  await assertNotSymlink(path);
  await writeAtomic(path, text);
}

/** Reads `path` as text, or undefined when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}
