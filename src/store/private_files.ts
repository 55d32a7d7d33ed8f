/**
 * Tenement's private files: the data dir (mode 0700 when tenement creates it), the state file
 * (0600 from its first byte) and the token file, written atomically and never through a symbolic
 * link, since it holds the admin secret.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { TenementError } from "../core/errors.ts";

const log = getLogger(["tenement", "store"]);

/**
 * Creates `path` (and missing parents) with mode 0700. An existing directory keeps its mode (it
 * may be shared on purpose), with a warning when other users can enter it.
 */
export async function ensureDataDir(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: false, mode: 0o700 });
  } catch (err: unknown) {
    if (err instanceof Deno.errors.AlreadyExists) return await warnIfOpen(path);
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  }
  // The umask may have taken bits away, never added: set exactly 0700.
  await Deno.chmod(path, 0o700);
}

async function warnIfOpen(path: string): Promise<void> {
  const mode = ((await Deno.stat(path)).mode ?? 0) & 0o777;
  if ((mode & 0o077) === 0) return;
  log.warn(
    "The data dir {path} is open to other users (mode {mode}); it holds the state file, the " +
      "token file and every instance's data: chmod 700 {path}",
    { path, mode: mode.toString(8).padStart(4, "0") },
  );
}

/**
 * Creates `path` empty with mode 0600 when it does not exist (SQLite takes an empty file for a
 * new database, and gives its -wal and -shm files the same mode), else sets it and its -wal and
 * -shm files to 0600.
 */
export async function ensurePrivateFile(path: string): Promise<void> {
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    file.close();
  } catch (err: unknown) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  for (const name of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const info = await Deno.lstat(name);
      if (info.isFile && ((info.mode ?? 0) & 0o077) !== 0) await Deno.chmod(name, 0o600);
    } catch (err: unknown) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/** Throws when `path` is a symbolic link; a missing path is fine. */
export async function assertNotSymlink(path: string): Promise<void> {
  let isSymlink: boolean;
  try {
    isSymlink = (await Deno.lstat(path)).isSymlink;
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (isSymlink) {
    throw new TenementError(
      `Cannot write ${path}: it is a symbolic link, and a token is never written through one (remove it and run the command again)`,
    );
  }
}

/**
 * Writes `text` to `path` with mode 0600 from its first byte: a new file beside it, flushed,
 * then renamed over `path`, so a reader sees the old file or the new one, never half of one.
 * Refuses when `path` is a symbolic link (it could point anywhere).
 */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  await assertNotSymlink(path);
  await writePrivateFileAtomic(path, text);
}

/**
 * Writes `text` to `path` with mode 0600 from its first byte through a new temp file beside it,
 * flushed, then renamed over `path`. The caller decides what a symbolic link at `path` means.
 */
export async function writePrivateFileAtomic(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash);
  const temp = `${dir}/.${path.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    // createNew (O_EXCL) never follows a link someone placed at the temp name.
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      await Deno.chmod(temp, 0o600);
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (err: unknown) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}
