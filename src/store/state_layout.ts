/**
 * The private directory `{data_dir}/.tenement/` on disk: created 0700, and an earlier layout
 * (tenement's files at the top of the data dir) moved into it when `ten serve` starts.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { TenementError } from "../core/errors.ts";
import { legacyStatePaths, type StatePaths, statePaths } from "../core/state_paths.ts";
import { ensureDataDir } from "./private_files.ts";

const log = getLogger(["tenement", "store"]);

/** Creates the data dir (see `ensureDataDir`) and its private directory, mode 0700. */
export async function ensureStateDir(dataDir: string): Promise<StatePaths> {
  await ensureDataDir(dataDir);
  const paths = statePaths(dataDir);
  await Deno.mkdir(paths.dir, { mode: 0o700 }).catch((err: unknown) => {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  });
  const info = await Deno.lstat(paths.dir);
  if (!info.isDirectory) {
    throw new TenementError(
      `Cannot use ${paths.dir}: it is not a directory (tenement keeps its own files there)`,
    );
  }
  await Deno.chmod(paths.dir, 0o700);
  return paths;
}

async function isPresent(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Options of {@linkcode migrateStateLayout}. */
export interface MigrateOptions {
  /** The ACME cache in use: a `{data_dir}/acme` configured explicitly stays where it is. */
  readonly acmeCacheDir?: string;
}

/**
 * Moves the files an earlier version kept at the top of `dataDir` (`tenement.kv` and its
 * `-wal`/`-shm`, `api_token`, `acme/`) into the private directory, one log line per item moved.
 * Nothing is overwritten: an item present in both places stays where it is, with a warning. A
 * stale `run/api.sock` and `ten.lock` are removed. Call with the data dir locked; throws when
 * a daemon of the earlier version still holds its lock.
 * @returns the items moved (their old paths)
 */
export async function migrateStateLayout(
  dataDir: string,
  options: MigrateOptions = {},
): Promise<string[]> {
  const legacy = legacyStatePaths(dataDir);
  const current = statePaths(dataDir);
  await refuseIfLegacyLocked(legacy.lockFile, dataDir);
  const items: [string, string][] = [
    [legacy.stateFile, current.stateFile],
    [`${legacy.stateFile}-wal`, `${current.stateFile}-wal`],
    [`${legacy.stateFile}-shm`, `${current.stateFile}-shm`],
    [legacy.apiToken, current.apiToken],
  ];
  if (options.acmeCacheDir !== legacy.acmeDir) items.push([legacy.acmeDir, current.acmeDir]);
  // The KV file and its journal move together or not at all.
  if (await isPresent(current.stateFile) && await isPresent(legacy.stateFile)) {
    log.warn(
      "Both {old} and {new} exist: using {new} and leaving {old} (and its -wal/-shm) as it is",
      { old: legacy.stateFile, new: current.stateFile },
    );
    items.splice(0, 3);
  }
  const moved: string[] = [];
  for (const [from, to] of items) {
    if (!await isPresent(from)) continue;
    if (await isPresent(to)) {
      log.warn("Both {old} and {new} exist: using {new} and leaving {old} as it is", {
        old: from,
        new: to,
      });
      continue;
    }
    await Deno.rename(from, to);
    moved.push(from);
    log.info("Moved {old} to {new} (tenement's own files now live in {dir})", {
      old: from,
      new: to,
      dir: current.dir,
    });
  }
  for (const stale of [legacy.apiSocket, legacy.lockFile]) {
    await Deno.remove(stale).catch((err: unknown) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
  return moved;
}

async function refuseIfLegacyLocked(lockFile: string, dataDir: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(lockFile, { write: true });
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  try {
    if (!await file.tryLock(true)) {
      throw new TenementError(`Another ten serve is already using the data dir ${dataDir}`);
    }
    await file.unlock();
  } finally {
    file.close();
  }
}
