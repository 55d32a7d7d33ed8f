/**
 * Temporary directories that remove themselves on dispose (and on an interrupt).
 * @module
 */
import { removeOnInterrupt } from "./process_groups.ts";

/** A temp dir removed on dispose; `prefix` names it in /tmp. */
export async function tempDir(prefix = "ten-test-"): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  const forget = removeOnInterrupt(path);
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await Deno.remove(path, { recursive: true }).catch(() => {});
      forget();
    },
  };
}
