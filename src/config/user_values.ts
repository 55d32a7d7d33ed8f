/**
 * The values of `[service.X] user`, `[settings] default_user` and `[settings] auto_user_range`:
 * `"inherit"`, `"auto"` or a user name, and a range of user ids. Pure: no I/O (whether a named
 * user exists is checked at spawn, since a config may be checked on another machine).
 * @module
 */
import type { Field } from "./config_fields.ts";

/** An inclusive range of user (and group) ids. */
export interface UidRange {
  readonly start: number;
  readonly end: number;
}

/** Lowest id `auto_user_range` may use: below it are the system's and people's accounts. */
export const MIN_AUTO_UID = 1000;
/** Highest id `auto_user_range` may use (4294967295 is `(uid_t) -1`, "no user"). */
export const MAX_AUTO_UID = 4294967294;

/** A user name as useradd accepts it (Debian's default pattern, with capitals). */
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

/**
 * A `user` value, or undefined when it is none: `"inherit"`, `"auto"` or a user name.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(parseUserSetting("auto"), "auto");
 * equal(parseUserSetting("www-data"), "www-data");
 * equal(parseUserSetting("no body"), undefined);
 * ```
 */
export function parseUserSetting(raw: unknown): string | undefined {
  return typeof raw === "string" && USER_NAME.test(raw) ? raw : undefined;
}

/**
 * `"A-B"` as a range of ids, or undefined unless A < B and both are within
 * {@link MIN_AUTO_UID}..{@link MAX_AUTO_UID}.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * deepEqual(parseUidRange("61184-65519"), { start: 61184, end: 65519 });
 * equal(parseUidRange("65519-61184"), undefined);
 * equal(parseUidRange("0-100"), undefined);
 * ```
 */
export function parseUidRange(raw: unknown): UidRange | undefined {
  if (typeof raw !== "string") return undefined;
  const match = /^\s*(\d{1,10})\s*-\s*(\d{1,10})\s*$/.exec(raw);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start >= end || start < MIN_AUTO_UID || end > MAX_AUTO_UID) return undefined;
  return { start, end };
}

/** `user` / `default_user`. */
export const USER_SETTING: Field<string> = {
  expected: '"inherit", "auto" or the name of a user (e.g. "www-data")',
  convert: parseUserSetting,
  isText: true,
};

/** `auto_user_range`. */
export const UID_RANGE: Field<UidRange> = {
  expected:
    `a range of user ids "A-B" with A below B, both from ${MIN_AUTO_UID} to ${MAX_AUTO_UID} (e.g. "61184-65519")`,
  convert: parseUidRange,
  isText: true,
};
