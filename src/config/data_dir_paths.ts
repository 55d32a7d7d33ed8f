/**
 * A common mistake from the original docs: `DATABASE_PATH = "{data_dir}/{id}/app.db"`. tenement
 * creates `{data_dir}/{name}/{id}` for each instance, nothing else, so such a path points at a
 * directory that does not exist (the app crashes on every request) or that every instance shares.
 * Each `env` value under `{data_dir}` but outside the instance's own directory becomes a warning
 * with the right path. Pure: no I/O.
 * @module
 */
import { entriesOf, tableOf } from "./config_fields.ts";
import { findKeyPosition, formatKeyPath, type KeyPositionIndex } from "./key_positions.ts";
import type { ConfigWarning } from "./schema.ts";

const DATA_DIR = "{data_dir}";

/**
 * True when `rest` (what follows `{data_dir}`) stays inside `{data_dir}/{name}/{id}` of service
 * `service`, with `{name}` or the service's own name.
 */
function isInsideInstanceDir(rest: string, service: string): boolean {
  for (const name of ["{name}", service]) {
    const own = `/${name}/{id}`;
    if (rest === own || rest.startsWith(`${own}/`)) return true;
  }
  return false;
}

/**
 * Warnings for `[service.X] env` values that point under `{data_dir}` outside the instance's own
 * directory.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { indexKeyPositions } from "./key_positions.ts";
 * const text = '[service.notes]\ncommand = "x"\n[service.notes.env]\nDB = "{data_dir}/{id}/app.db"\n';
 * const root = { service: { notes: { command: "x", env: { DB: "{data_dir}/{id}/app.db" } } } };
 * const warnings = findStrayDataPaths(root, { file: "t.toml", positions: indexKeyPositions(text) });
 * deepEqual(warnings.map((w) => w.at.line), [4]);
 * ```
 */
export function findStrayDataPaths(
  root: Readonly<Record<string, unknown>>,
  source: { readonly file: string; readonly positions: KeyPositionIndex },
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const [service, table] of entriesOf(root["service"])) {
    for (const [name, value] of entriesOf(tableOf(table)["env"])) {
      if (typeof value !== "string" || !value.startsWith(DATA_DIR)) continue;
      const rest = value.slice(DATA_DIR.length);
      if (rest === "" || isInsideInstanceDir(rest, service)) continue;
      const path = ["service", service, "env", name];
      const { line, column } = findKeyPosition(source.positions, path);
      const key = formatKeyPath(path);
      const file = rest.split("/").filter((part) => part !== "").pop();
      const suggestion = `{data_dir}/{name}/{id}${file === undefined ? "" : `/${file}`}`;
      warnings.push({
        at: { file: source.file, line, column, key },
        message: `${source.file}:${line}:${column}: "${key}" = ${
          JSON.stringify(value)
        } points under {data_dir} outside the instance's own directory: tenement creates only {data_dir}/{name}/{id} for each instance, so this path is missing or shared by every instance (did you mean ${
          JSON.stringify(suggestion)
        }?)`,
      });
    }
  }
  return warnings;
}
