/**
 * Writes a file in one step: a temporary file beside it, then a rename, so a reader (or a crash)
 * never sees half of it.
 * @module
 */

/** Writes `text` to `path` with `mode` via a temporary file and a rename. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const temp = `${path}.ten-new`;
  try {
    await Deno.writeTextFile(temp, text, { mode });
    await Deno.chmod(temp, mode);
    await Deno.rename(temp, path);
  } catch (error: unknown) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
