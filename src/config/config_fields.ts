/**
 * The typed-field machinery of the config parser: how one TOML value is checked and converted,
 * and how problems are collected with their file positions. Pure: no I/O.
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import { suggest } from "../core/suggest.ts";
import {
  findKeyPosition,
  formatKeyPath,
  type KeyPositionIndex,
  type KeySegment,
} from "./key_positions.ts";

// --- Collecting problems ---------------------------------------------------------------------

export type Table = Record<string, unknown>;

export interface Context {
  readonly file: string;
  readonly positions: KeyPositionIndex;
  readonly errors: ConfigError[];
}

export function report(ctx: Context, path: readonly KeySegment[], problem: string): void {
  const { line, column } = findKeyPosition(ctx.positions, path);
  const key = formatKeyPath(path);
  ctx.errors.push(new ConfigError(problem, { file: ctx.file, line, column, key }));
}

export function badValue(
  ctx: Context,
  path: readonly KeySegment[],
  field: Field<unknown>,
  raw: unknown,
): void {
  const hint = field.hint?.(raw) ?? "";
  const got = describe(raw, field.isText === true);
  report(
    ctx,
    path,
    `invalid value for "${formatKeyPath(path)}": expected ${field.expected}, got ${got}${hint}`,
  );
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = suggest(word, candidates);
  return match === undefined ? "" : ` (did you mean ${JSON.stringify(match)}?)`;
}

export function describe(raw: unknown, isText: boolean): string {
  if (typeof raw === "string") {
    return isText ? JSON.stringify(raw) : `a string (${JSON.stringify(raw)})`;
  }
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  if (Array.isArray(raw)) return "an array";
  if (raw instanceof Date) return "a date";
  return "a table";
}

export function tildeProblem(source: string, value: string): string {
  return `${source} is ${JSON.stringify(value)}: tilde is not expanded, use an absolute path`;
}

// --- Typed fields ----------------------------------------------------------------------------

/** How one key's raw TOML value is checked and converted. */
export interface Field<T> {
  /** What the value must be, after "expected", e.g. "a number of seconds". */
  readonly expected: string;
  /** The converted value, or undefined when `raw` is not what `expected` says. */
  readonly convert: (raw: unknown) => T | undefined;
  /** Text appended to the message, e.g. a did-you-mean. */
  readonly hint?: (raw: unknown) => string;
  /** Show a string that was given as `"x"` rather than `a string ("x")`. */
  readonly isText?: boolean;
}

export type Fields = Readonly<Record<string, Field<unknown>>>;
export type Values<F extends Fields> = {
  readonly [K in keyof F]?: F[K] extends Field<infer T> ? T : never;
};

export function isTable(raw: unknown): raw is Table {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) && !(raw instanceof Date);
}

/** `value` as a table, or an empty one when it is not a table. */
export function tableOf(value: unknown): Readonly<Record<string, unknown>> {
  return isTable(value) ? value : {};
}

/** The entries of `value` as a table (none when it is not a table). */
export function entriesOf(value: unknown): [string, unknown][] {
  return Object.entries(tableOf(value));
}

function isStringList(raw: unknown): raw is string[] {
  return Array.isArray(raw) && raw.every((item) => typeof item === "string");
}

function isNumber(raw: unknown): raw is number {
  return typeof raw === "number" && Number.isFinite(raw);
}

function isWholeNumber(raw: unknown): raw is number {
  return Number.isSafeInteger(raw);
}

/** Seconds in the TOML (fractions allowed), milliseconds in the Config. */
export function seconds(min: "positive" | "zero_or_more"): Field<number> {
  return {
    expected: min === "positive" ? "a number of seconds greater than 0" : "a number of seconds",
    convert: (raw) =>
      isNumber(raw) && (raw > 0 || (raw === 0 && min === "zero_or_more"))
        ? Math.round(raw * 1000)
        : undefined,
  };
}

export function wholeNumber(min: 0 | 1, unit?: string): Field<number> {
  const ofUnit = unit === undefined ? "" : ` of ${unit}`;
  return {
    expected: `a whole number${ofUnit}${min === 1 ? " greater than 0" : ""}`,
    convert: (raw) => (isWholeNumber(raw) && raw >= min ? raw : undefined),
  };
}

export function oneOf<T extends string>(values: readonly T[]): Field<T> {
  return {
    expected: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
    convert: (raw) => values.find((value) => value === raw),
    hint: (raw) => (typeof raw === "string" ? didYouMean(raw, values) : ""),
    isText: true,
  };
}

export const PORT: Field<number> = {
  expected: "a port number from 1 to 65535",
  convert: (raw) => (isWholeNumber(raw) && raw >= 1 && raw <= 65535 ? raw : undefined),
};
export const TEXT: Field<string> = {
  expected: "a non-empty string",
  convert: (raw) => (typeof raw === "string" && raw.trim() !== "" ? raw : undefined),
  isText: true,
};
export const BOOLEAN: Field<boolean> = {
  expected: "true or false",
  convert: (raw) => (typeof raw === "boolean" ? raw : undefined),
};
export const STRING_LIST: Field<readonly string[]> = {
  expected: "an array of strings",
  convert: (raw) => (isStringList(raw) ? raw : undefined),
};
export const HTTP_PATH: Field<string> = {
  expected: 'a path starting with "/" (e.g. "/health")',
  convert: (raw) => (typeof raw === "string" && raw.startsWith("/") ? raw : undefined),
  isText: true,
};
export const TABLE: Field<Table> = {
  expected: "a table",
  convert: (raw) => (isTable(raw) ? raw : undefined),
};
export const TABLE_LIST: Field<readonly unknown[]> = {
  expected: "an array of tables",
  convert: (raw) => (Array.isArray(raw) ? raw : undefined),
};

/** Converts every known key of `table` and reports unknown keys and bad values. */
export function readTable<F extends Fields>(
  ctx: Context,
  table: Table,
  path: readonly KeySegment[],
  fields: F,
  where: string,
): Values<F> {
  const values: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(table)) {
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (field === undefined) {
      report(
        ctx,
        [...path, key],
        `unknown key ${JSON.stringify(key)} ${where}${didYouMean(key, Object.keys(fields))}`,
      );
      continue;
    }
    const value = field.convert(raw);
    if (value === undefined) badValue(ctx, [...path, key], field, raw);
    else values[key] = value;
  }
  return values as Values<F>;
}

/**
 * True when required `key` is absent and no unknown key looks like a misspelling of it (that one
 * is already reported with a did-you-mean).
 */
export function isMissing(table: Table, key: string, fields: Fields): boolean {
  if (table[key] !== undefined) return false;
  const known = Object.keys(fields);
  return !Object.keys(table).some((k) => !Object.hasOwn(fields, k) && suggest(k, known) === key);
}

/** Keys of `table` in file order (object order puts integer-like keys first). */
export function keysInFileOrder(ctx: Context, table: Table, path: readonly KeySegment[]): string[] {
  const lineOf = (key: string) => findKeyPosition(ctx.positions, [...path, key]);
  return Object.keys(table).toSorted((a, b) =>
    lineOf(a).line - lineOf(b).line || lineOf(a).column - lineOf(b).column
  );
}
