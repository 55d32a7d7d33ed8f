/**
 * Parses `/etc/passwd` and `/etc/group` text: the user names, ids and primary groups tenement
 * needs for `user = "name"`, and the ids already taken that `user = "auto"` must skip. Pure: the
 * text is passed in.
 * @module
 */

/** One `/etc/passwd` line. */
export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  /** The user's primary group. */
  readonly gid: number;
  readonly home: string;
}

/** One `/etc/group` line. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
}

function fieldsOf(text: string, minFields: number): string[][] {
  return text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"))
    .filter((fields) => fields.length >= minFields);
}

function idOf(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : undefined;
}

/**
 * The entries of `/etc/passwd` text (`name:password:uid:gid:gecos:home:shell`); malformed lines
 * and NIS `+`/`-` lines are skipped.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(parsePasswd("root:x:0:0:root:/root:/bin/bash\nbad line\n"), [
 *   { name: "root", uid: 0, gid: 0, home: "/root" },
 * ]);
 * ```
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of fieldsOf(text, 7)) {
    const [name, , uidText, gidText, , home] = fields;
    const uid = idOf(uidText);
    const gid = idOf(gidText);
    if (!name || /^[+-]/.test(name) || uid === undefined || gid === undefined) continue;
    entries.push({ name, uid, gid, home: home ?? "" });
  }
  return entries;
}

/**
 * The entries of `/etc/group` text (`name:password:gid:members`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(parseGroups("adm:x:4:syslog\n"), [{ name: "adm", gid: 4 }]);
 * ```
 */
export function parseGroups(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const fields of fieldsOf(text, 3)) {
    const [name, , gidText] = fields;
    const gid = idOf(gidText);
    if (!name || /^[+-]/.test(name) || gid === undefined) continue;
    entries.push({ name, gid });
  }
  return entries;
}
