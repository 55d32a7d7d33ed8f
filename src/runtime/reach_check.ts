/**
 * Before an instance starts as another user: can that user reach its program (and a script's
 * interpreter), the files its command names, its working dir and its data dir? Reads `stat()`
 * of each path and of every directory above it, and lets core/reachability.ts decide. Apps
 * cloned under `/root`, and pyenv or nvm toolchains there, are the common case it reports.
 * @module
 */
import {
  type Access,
  ancestorsOf,
  firstUnreachable,
  type PathFacts,
  type Reacher,
  type ReachStep,
} from "../core/reachability.ts";

/** What {@linkcode findUnreachable} checks. */
export interface ReachInputs {
  /** The app's argv, as planned (program not yet resolved). */
  readonly argv: readonly string[];
  /** The instance's `PATH`, which finds a bare program name. */
  readonly pathVar: string | undefined;
  /** The working dir (absolute). */
  readonly cwd: string;
  /** The instance's data dir (it is made the user's own; the dirs above it must let it in). */
  readonly instanceDir: string;
  readonly user: Reacher;
}

/** A path the user cannot reach. */
export interface Unreachable {
  /** The path the instance needs, as named (e.g. the program found through PATH). */
  readonly path: string;
  /** What it is: `program`, `interpreter`, `file`, `workdir` or `data dir`. */
  readonly role: "program" | "interpreter" | "file" | "workdir" | "data dir";
  /** e.g. `/root is mode 0700`. */
  readonly reason: string;
  /** True when the program was found through `PATH`. */
  readonly isFromPath: boolean;
}

interface Target {
  readonly path: string;
  readonly role: Unreachable["role"];
  readonly access: Access;
  readonly isFromPath?: boolean;
}

async function statOf(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}

function factsOf(path: string, info: Deno.FileInfo): PathFacts {
  return { path, mode: (info.mode ?? 0) & 0o7777, uid: info.uid ?? 0, gid: info.gid ?? 0 };
}

/** The program as the launcher finds it: a path against `cwd`, a bare name through PATH. */
async function findProgram(
  program: string,
  cwd: string,
  pathVar: string | undefined,
): Promise<Target | undefined> {
  if (program.includes("/")) {
    return {
      path: program.startsWith("/") ? program : `${cwd}/${program}`,
      role: "program",
      access: "rx",
    };
  }
  for (const dir of (pathVar ?? "").split(":").filter((d) => d.startsWith("/"))) {
    const path = `${dir}/${program}`;
    const info = await statOf(path);
    if (info?.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
      return { path, role: "program", access: "rx", isFromPath: true };
    }
  }
  return undefined;
}

/** The absolute interpreter of a `#!` script, if `path` is one. */
async function interpreterOf(path: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const buffer = new Uint8Array(256);
    const count = await file.read(buffer) ?? 0;
    const head = new TextDecoder().decode(buffer.subarray(0, count));
    if (!head.startsWith("#!")) return undefined;
    const interpreter = head.slice(2).split("\n")[0]!.trim().split(/\s+/)[0] ?? "";
    return interpreter.startsWith("/") ? interpreter : undefined;
  } finally {
    file.close();
  }
}

/** The steps to `path`: `x` on each directory above where it really is, `access` on it. */
async function stepsTo(path: string, access: Access): Promise<ReachStep[] | undefined> {
  const real = await Deno.realPath(path).catch(() => undefined);
  if (real === undefined) return undefined;
  const steps: ReachStep[] = [];
  // The directories above the name used and above the file a link leads to must both let in.
  const dirs = new Set([...ancestorsOf(path), ...ancestorsOf(real)]);
  for (const dir of dirs) {
    const info = await statOf(dir);
    if (info !== undefined) steps.push({ facts: factsOf(dir, info), access: "x" });
  }
  const info = await statOf(real);
  if (info === undefined) return undefined;
  steps.push({ facts: factsOf(path, info), access: info.isDirectory ? "x" : access });
  return steps;
}

/** Files the command names as arguments (`python3 app.py`): each must be readable. */
async function namedFiles(args: readonly string[], cwd: string): Promise<Target[]> {
  const files: Target[] = [];
  for (const arg of args) {
    if (arg === "" || arg.startsWith("-")) continue;
    const path = arg.startsWith("/") ? arg : `${cwd}/${arg}`;
    if ((await statOf(path))?.isFile) files.push({ path, role: "file", access: "r" });
  }
  return files;
}

/**
 * The first path the instance needs that `inputs.user` cannot reach, or undefined when it can
 * reach them all (a program that is not found at all is left to the launcher to report).
 */
export async function findUnreachable(inputs: ReachInputs): Promise<Unreachable | undefined> {
  const [program, ...args] = inputs.argv;
  const targets: Target[] = [];
  const found = program === undefined
    ? undefined
    : await findProgram(program, inputs.cwd, inputs.pathVar);
  if (found !== undefined) {
    targets.push(found);
    const interpreter = await interpreterOf(found.path);
    if (interpreter !== undefined) {
      targets.push({ path: interpreter, role: "interpreter", access: "rx" });
    }
  }
  targets.push(...await namedFiles(args, inputs.cwd));
  targets.push({ path: inputs.cwd, role: "workdir", access: "x" });
  for (const target of targets) {
    const steps = await stepsTo(target.path, target.access);
    if (steps === undefined) continue;
    const failure = firstUnreachable(steps, inputs.user);
    if (failure !== undefined) {
      return {
        path: target.path,
        role: target.role,
        reason: failure.reason,
        isFromPath: target.isFromPath === true,
      };
    }
  }
  const dataSteps: ReachStep[] = [];
  for (const dir of ancestorsOf(inputs.instanceDir)) {
    const info = await statOf(dir);
    if (info !== undefined) dataSteps.push({ facts: factsOf(dir, info), access: "x" });
  }
  const failure = firstUnreachable(dataSteps, inputs.user);
  if (failure === undefined) return undefined;
  return { path: inputs.instanceDir, role: "data dir", reason: failure.reason, isFromPath: false };
}
