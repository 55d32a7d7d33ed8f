/**
 * Path arithmetic for config values: relative paths resolve against the config file's
 * directory. Pure: strings only, no file system.
 * @module
 */

/**
 * Resolves `path` against the absolute directory `base` and normalises `.`, `..` and repeated
 * slashes. An absolute `path` ignores `base`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(resolvePath("/srv/app", "./data"), "/srv/app/data");
 * equal(resolvePath("/srv/app", "../x//y/."), "/srv/x/y");
 * equal(resolvePath("/srv/app", "/var/lib"), "/var/lib");
 * ```
 */
export function resolvePath(base: string, path: string): string {
  const parts: string[] = [];
  for (const part of (path.startsWith("/") ? path : `${base}/${path}`).split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * The directory holding an absolute, normalised `path`; the root is its own parent.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parentDir("/srv/app/tenement.toml"), "/srv/app");
 * equal(parentDir("/tenement.toml"), "/");
 * ```
 */
export function parentDir(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}
