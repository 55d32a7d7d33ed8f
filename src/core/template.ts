/**
 * `{name}` `{id}` `{data_dir}` `{port}` `{socket}` interpolation for `command`, `args`, `env`
 * values and socket paths. Pure: no I/O.
 * @module
 */

/** The values placeholders expand to. */
export interface TemplateVars {
  /** The service name. */
  readonly name: string;
  /** The instance id. */
  readonly id: string;
  /** The global `settings.data_dir` (after overrides), not the per-instance dir. */
  readonly data_dir: string;
  /** The allocated port; `{port}` becomes empty when there is none. */
  readonly port?: number | string | undefined;
  /** The resolved socket path; `{socket}` stays as is when absent (e.g. in the socket template). */
  readonly socket?: string | undefined;
}

const PLACEHOLDER = /\{(name|id|data_dir|port|socket)\}/g;

/**
 * Replaces the known placeholders in one pass; unknown `{x}` is left as is.
 *
 * One pass (unlike the original's chained replaces) means a value that itself contains `{id}`
 * is never expanded a second time.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const vars = { name: "notes", id: "alice", data_dir: "/srv/data", port: 30001 };
 * equal(interpolate("{data_dir}/{name}/{id}", vars), "/srv/data/notes/alice");
 * equal(interpolate("--port={port} {other}", vars), "--port=30001 {other}");
 * ```
 */
export function interpolate(text: string, vars: TemplateVars): string {
  return text.replace(PLACEHOLDER, (whole, key: string) => {
    switch (key) {
      case "name":
        return vars.name;
      case "id":
        return vars.id;
      case "data_dir":
        return vars.data_dir;
      case "port":
        return vars.port === undefined ? "" : String(vars.port);
      default:
        return vars.socket ?? whole;
    }
  });
}
