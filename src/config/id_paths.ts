/**
 * Finds `{id}` used in a file path (next to a `/`) in a service's `command`, `args` or `env`
 * values. With `auto_create` on and no `auto_create_allow` list, every Host name a visitor makes
 * up becomes an id, so such a path is chosen by anyone on the internet. The instance dir
 * `{data_dir}/{name}/{id}` is the exception: ids are validated names, so it always stays inside
 * the service's own directory. Pure: no I/O.
 * @module
 */

/** Where `{id}` was found in a path, as a key path below `[service.<name>]`. */
export interface IdPathUse {
  /** The key below the service: `["command"]`, `["args", 0]` or `["env", "DB"]`. */
  readonly key: readonly (string | number)[];
  /** The value as written. */
  readonly value: string;
}

/** What a service says about itself that the check needs. */
export interface IdPathInput {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

const ID_IN_PATH = /\/\{id\}|\{id\}\//;

/**
 * True when `value` puts `{id}` next to a `/` anywhere but in the instance dir
 * `{data_dir}/{name}/{id}` (or `{data_dir}/<service>/{id}`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(hasIdInPath("{data_dir}/{id}/app.db", "notes"), true);
 * equal(hasIdInPath("--db=/srv/{id}/x", "notes"), true);
 * equal(hasIdInPath("{data_dir}/{name}/{id}/app.db", "notes"), false);
 * equal(hasIdInPath("--tenant={id}", "notes"), false);
 * ```
 */
export function hasIdInPath(value: string, service: string): boolean {
  const rest = value
    .replaceAll("{data_dir}/{name}/{id}", "{instance_dir}")
    .replaceAll(`{data_dir}/${service}/{id}`, "{instance_dir}");
  return ID_IN_PATH.test(rest);
}

/** Every `command`, `args` and `env` value of `service` that uses `{id}` in a path. */
export function findIdPaths(service: IdPathInput): IdPathUse[] {
  const uses: IdPathUse[] = [];
  if (hasIdInPath(service.command, service.name)) {
    uses.push({ key: ["command"], value: service.command });
  }
  service.args.forEach((arg, index) => {
    if (hasIdInPath(arg, service.name)) uses.push({ key: ["args", index], value: arg });
  });
  for (const [name, value] of Object.entries(service.env)) {
    if (hasIdInPath(value, service.name)) uses.push({ key: ["env", name], value });
  }
  return uses;
}
