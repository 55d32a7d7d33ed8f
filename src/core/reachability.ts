/**
 * Can a user reach a path? Decided from the mode, owner and group of the path and of each
 * directory above it, as the kernel would for a process with that uid and gid and no other
 * groups (tenement drops supplementary groups). Pure: the `stat()` facts are passed in.
 * @module
 */

/** What `stat()` says about one path. */
export interface PathFacts {
  readonly path: string;
  /** Permission bits (`mode & 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The user a check is for. */
export interface Reacher {
  readonly uid: number;
  readonly gid: number;
}

/** Access wanted on one path: `x` enter or execute, `r` read. */
export type Access = "x" | "r" | "rx";

/** One path and the access it must grant. */
export interface ReachStep {
  readonly facts: PathFacts;
  readonly access: Access;
}

/** The permission bits (of 0o7) `who` gets from `facts`: owner's, else group's, else others'. */
function bitsFor(facts: PathFacts, who: Reacher): number {
  if (who.uid === 0) return 0o7;
  if (facts.uid === who.uid) return (facts.mode >> 6) & 0o7;
  if (facts.gid === who.gid) return (facts.mode >> 3) & 0o7;
  return facts.mode & 0o7;
}

/** True when `who` has `access` on the path `facts` describes. */
export function canAccess(facts: PathFacts, who: Reacher, access: Access): boolean {
  const bits = bitsFor(facts, who);
  const wanted = (access.includes("r") ? 0o4 : 0) | (access.includes("x") ? 0o1 : 0);
  return (bits & wanted) === wanted;
}

/** Why a step failed: the path and what stops the user. */
export interface ReachFailure {
  readonly step: ReachStep;
  /** e.g. `/root is mode 0700`. */
  readonly reason: string;
}

function describeMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * The first step `who` cannot take, or undefined when every one is allowed. List the ancestors
 * of a path before the path itself, so the failure names the directory that blocks the way.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const steps = [
 *   { facts: { path: "/root", mode: 0o700, uid: 0, gid: 0 }, access: "x" as const },
 *   { facts: { path: "/root/app.py", mode: 0o644, uid: 0, gid: 0 }, access: "r" as const },
 * ];
 * equal(firstUnreachable(steps, { uid: 61190, gid: 61190 })?.reason, "/root is mode 0700");
 * equal(firstUnreachable(steps, { uid: 0, gid: 0 }), undefined);
 * ```
 */
export function firstUnreachable(
  steps: readonly ReachStep[],
  who: Reacher,
): ReachFailure | undefined {
  for (const step of steps) {
    if (canAccess(step.facts, who, step.access)) continue;
    const { path, mode } = step.facts;
    const what = step.access === "x"
      ? ""
      : step.access === "r"
      ? " and not readable by it"
      : " and not readable and executable by it";
    return { step, reason: `${path} is mode ${describeMode(mode)}${what}` };
  }
  return undefined;
}

/**
 * The directories above an absolute `path`, from the root down (without `path` itself).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(ancestorsOf("/root/apps/app.py"), ["/", "/root", "/root/apps"]);
 * ```
 */
export function ancestorsOf(path: string): string[] {
  const parts = path.split("/").filter((part) => part !== "");
  const dirs = ["/"];
  for (let i = 1; i < parts.length; i++) dirs.push(`/${parts.slice(0, i).join("/")}`);
  return dirs;
}
