/**
 * File-system actions around an instance's start and stop: its data dir and socket file.
 * @module
 */

/** Creates, removes and cleans instance paths. */
export class InstanceFiles {
  /** `mkdir -p`. */
  async ensureDir(path: string): Promise<void> {
    await Deno.mkdir(path, { recursive: true });
  }

  /**
   * `rm -rf`, ignoring a missing path. Symlinks are never followed: a link at `path` or inside
   * it is removed itself, what it points to is kept.
   */
  async removeDir(path: string): Promise<void> {
    await Deno.remove(path, { recursive: true }).catch((err: unknown) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }

  /** True when something (a directory, a file, a link) is at `path`. */
  async exists(path: string): Promise<boolean> {
    try {
      await Deno.lstat(path);
      return true;
    } catch (err: unknown) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }

  /** Removes a stale file (an old socket), ignoring a missing one. */
  async removeFile(path: string): Promise<void> {
    await Deno.remove(path).catch((err: unknown) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
}
