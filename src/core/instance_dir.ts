/**
 * Where an instance keeps its data: one rule for the runner (made before start, removed on an
 * explicit stop) and the storage meter. Pure.
 * @module
 */

/**
 * An instance's own data dir, `{data_dir}/{service}/{id}`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(instanceDir("/var/lib/tenement", "notes", "alice"), "/var/lib/tenement/notes/alice");
 * ```
 */
export function instanceDir(dataDir: string, service: string, id: string): string {
  return `${dataDir}/${service}/${id}`;
}
