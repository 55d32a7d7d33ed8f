/**
 * Finds the system programs tenement wraps instances in (`setpriv`, `unshare`, `bwrap`) by
 * absolute path, in the system directories only: never through the daemon's or the instance's
 * `PATH`, which may hold anything.
 * @module
 */
import { SpawnError } from "../core/errors.ts";

/** Where system tools are looked for, in order. */
export const SYSTEM_TOOL_DIRS: readonly string[] = [
  "/usr/bin",
  "/bin",
  "/usr/sbin",
  "/sbin",
  "/usr/local/bin",
  "/usr/local/sbin",
];

const found = new Map<string, string>();

/**
 * The absolute path of `name` in {@link SYSTEM_TOOL_DIRS}; SpawnError naming the Debian
 * package `debianPackage` when it is in none of them.
 */
export async function findSystemTool(name: string, debianPackage: string): Promise<string> {
  const known = found.get(name);
  if (known !== undefined) return known;
  for (const dir of SYSTEM_TOOL_DIRS) {
    const path = `${dir}/${name}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
        found.set(name, path);
        return path;
      }
    } catch {
      // Not in this directory.
    }
  }
  throw new SpawnError(
    `Cannot start: ${name} is not installed (looked in ${
      SYSTEM_TOOL_DIRS.join(":")
    }); install it with: apt install ${debianPackage}`,
  );
}
