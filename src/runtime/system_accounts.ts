/**
 * Reads the machine's users and groups from `/etc/passwd` and `/etc/group` (parsed by
 * core/passwd.ts): who a named `user` is, and which ids `user = "auto"` must not hand out.
 * @module
 */
import { type GroupEntry, parseGroups, parsePasswd, type PasswdEntry } from "../core/passwd.ts";

/** The users and groups defined on this machine. */
export interface SystemAccounts {
  readonly users: readonly PasswdEntry[];
  readonly groups: readonly GroupEntry[];
}

/** Where the account files are (tests point them elsewhere). */
export interface AccountFiles {
  /** @default {"/etc/passwd"} */
  readonly passwd?: string;
  /** @default {"/etc/group"} */
  readonly group?: string;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return "";
    throw err;
  }
}

/** Reads both files now (they change when an operator adds a user, so never cached). */
export async function readSystemAccounts(files: AccountFiles = {}): Promise<SystemAccounts> {
  const [passwd, group] = await Promise.all([
    readOrEmpty(files.passwd ?? "/etc/passwd"),
    readOrEmpty(files.group ?? "/etc/group"),
  ]);
  return { users: parsePasswd(passwd), groups: parseGroups(group) };
}
