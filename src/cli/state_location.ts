/**
 * Where client verbs find tenement's own files: `{data_dir}/.tenement/`, or the top of the data
 * dir while a daemon of an earlier version (not yet restarted) keeps them there.
 * @module
 */
import { legacyStatePaths, type StatePaths, statePaths } from "../core/state_paths.ts";

async function isPresent(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Where a client verb finds tenement's files under `dataDir`: the private directory, or the
 * top of the data dir while a daemon of an earlier version (not yet restarted) keeps them there.
 */
export async function locateStatePaths(dataDir: string): Promise<StatePaths> {
  const current = statePaths(dataDir);
  if (await isPresent(current.stateFile) || await isPresent(current.apiToken)) return current;
  const legacy = legacyStatePaths(dataDir);
  if (await isPresent(legacy.stateFile) || await isPresent(legacy.apiToken)) return legacy;
  return current;
}
