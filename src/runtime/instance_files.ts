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

  /** `rm -rf`, ignoring a missing path. */
  async removeDir(path: string): Promise<void> {
    await Deno.remove(path, { recursive: true }).catch((err: unknown) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }

  /** Removes a stale file (an old socket), ignoring a missing one. */
  async removeFile(path: string): Promise<void> {
    await Deno.remove(path).catch((err: unknown) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
}
