/**
 * Where tenement keeps its own files: one private directory, `{data_dir}/.tenement/` (0700),
 * beside the tenants' `{data_dir}/{service}/{id}` dirs and out of their reach. Every path to the
 * state file, the token file, the lock, the API socket and the default ACME cache comes from
 * here. Pure: strings only, no file system.
 * @module
 */

/** Name of the private directory inside the data dir (a dot: no service is named so). */
export const STATE_DIR_NAME = ".tenement";

/** The paths of tenement's own files under one data dir. */
export interface StatePaths {
  /** The private directory itself. */
  readonly dir: string;
  /** The admin token `ten token-gen` saves (mode 0600). */
  readonly apiToken: string;
  /** The Deno KV state file (with its `-wal` and `-shm` files beside it). */
  readonly stateFile: string;
  /** Held locked by the running `ten serve`: one daemon per data dir. */
  readonly lockFile: string;
  /** The management API's Unix socket, reached by the front. */
  readonly apiSocket: string;
  /** Default `[settings.tls] cache_dir`: certificates and account keys. */
  readonly acmeDir: string;
  /** The SQLite log database (mode 0600, WAL). */
  readonly logsDb: string;
}

/**
 * tenement's own paths under `dataDir` (`.tenement/` inside it).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const paths = statePaths("/var/lib/tenement");
 * equal(paths.apiToken, "/var/lib/tenement/.tenement/api_token");
 * equal(paths.apiSocket, "/var/lib/tenement/.tenement/api.sock");
 * ```
 */
export function statePaths(dataDir: string): StatePaths {
  return pathsIn(`${dataDir}/${STATE_DIR_NAME}`);
}

/**
 * The same files where versions before the private directory kept them: at the top of the data
 * dir (the API socket in `run/`). Read only to move them, or by a client verb while the daemon
 * that wrote them was not yet restarted.
 */
export function legacyStatePaths(dataDir: string): StatePaths {
  return { ...pathsIn(dataDir), apiSocket: `${dataDir}/run/api.sock` };
}

function pathsIn(dir: string): StatePaths {
  return {
    dir,
    apiToken: `${dir}/api_token`,
    stateFile: `${dir}/tenement.kv`,
    lockFile: `${dir}/ten.lock`,
    apiSocket: `${dir}/api.sock`,
    acmeDir: `${dir}/acme`,
    logsDb: `${dir}/logs.db`,
  };
}
