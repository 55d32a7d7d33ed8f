/**
 * tenement.toml builders for tests and benchmarks: a `[settings]` block with fast health checks
 * and a private port range, `[service.<name>]` tables from plain objects, and `[instances]`.
 * Values are written as TOML literals, so strings are quoted and escaped in one place.
 * @module
 */
import { FIXTURES, PYTHON } from "./paths.ts";

/** A value that can be written as a TOML literal. */
export type TomlValue =
  | string
  | number
  | boolean
  | readonly TomlValue[]
  | { readonly [key: string]: TomlValue };

/** `value` as a TOML literal (strings as basic strings, objects as inline tables). */
export function tomlLiteral(value: TomlValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlLiteral).join(", ")}]`;
  const entries = Object.entries(value as { readonly [key: string]: TomlValue });
  return `{ ${entries.map(([k, v]) => `${k} = ${tomlLiteral(v)}`).join(", ")} }`;
}

function keyLines(keys: { readonly [key: string]: TomlValue | undefined }): string {
  return Object.entries(keys)
    .filter((entry): entry is [string, TomlValue] => entry[1] !== undefined)
    .map(([k, v]) => `${k} = ${tomlLiteral(v)}\n`)
    .join("");
}

/**
 * A `[settings]` block with fast health checks, small backoff and a private port range;
 * `overrides` replace or add keys. The range lies below Linux's ephemeral ports (32768 and up),
 * so an outgoing connection of the test run cannot take an instance's port between tenement's
 * free-port check and the app's bind.
 */
export function settingsBlock(overrides: { readonly [key: string]: TomlValue } = {}): string {
  const start = 10000 + Math.floor(Math.random() * 220) * 100;
  return `[settings]\n${
    keyLines({
      data_dir: "./data",
      health_check_interval: 1,
      backoff_base_ms: 100,
      backoff_max_ms: 1000,
      port_range_start: start,
      port_range_end: start + 99,
      ...overrides,
    })
  }`;
}

/** The command line that runs fixture `file` (python for `.py`, as is otherwise). */
export function fixtureCommand(file: string): string {
  return file.endsWith(".py") ? `${PYTHON} ${FIXTURES}/${file}` : `${FIXTURES}/${file}`;
}

/** `env` giving each instance its own DATA_DIR under the daemon's data dir. */
export const DATA_DIR_ENV = { DATA_DIR: "{data_dir}/{name}/{id}" } as const;

/** Keys of a `[service.<name>]` table; `fixture` is short for the command that runs it. */
export type ServiceKeys = { readonly fixture?: string } & {
  readonly [key: string]: TomlValue | undefined;
};

/** A `[service.<name>]` table. */
export function serviceBlock(name: string, keys: ServiceKeys): string {
  const { fixture, ...rest } = keys;
  const command = fixture === undefined ? {} : { command: fixtureCommand(fixture) };
  return `\n[service.${name}]\n${keyLines({ ...command, ...rest })}`;
}

/** The service most tests run: `ok_server.py` with `/health` and a per-instance DATA_DIR. */
export function okService(name: string, keys: ServiceKeys = {}): string {
  return serviceBlock(name, {
    fixture: "ok_server.py",
    health: "/health",
    env: DATA_DIR_ENV,
    ...keys,
  });
}

/** An `[instances]` table: the instances started with the daemon. */
export function instancesBlock(
  instances: { readonly [service: string]: readonly string[] },
): string {
  return `\n[instances]\n${keyLines(instances)}`;
}

/** The parts of a tenement.toml for {@linkcode tenementToml}. */
export interface TenementTomlParts {
  /** Overrides of {@linkcode settingsBlock}'s keys. */
  readonly settings?: { readonly [key: string]: TomlValue };
  readonly services: { readonly [name: string]: ServiceKeys };
  readonly instances?: { readonly [service: string]: readonly string[] };
}

/** A whole tenement.toml: settings (with overrides), services and optional instances. */
export function tenementToml(parts: TenementTomlParts): string {
  const services = Object.entries(parts.services).map(([name, keys]) => serviceBlock(name, keys));
  return settingsBlock(parts.settings) + services.join("") +
    (parts.instances === undefined ? "" : instancesBlock(parts.instances));
}
