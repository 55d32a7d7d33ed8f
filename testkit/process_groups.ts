/**
 * Process-group bookkeeping: kill a group, tell whether one is gone, remember the groups a run
 * started so that an interrupt (SIGINT/SIGTERM of the test or benchmark) leaves none behind.
 * Groups are killed by pgid, never by name.
 * @module
 */
import { listGroupMembers, readProcStat } from "../src/runtime/proc_stat.ts";
import { progress } from "./output.ts";
import { holdsWithin, sleep } from "./wait.ts";

/** Sends `signal` (default SIGKILL) to process group `pgid`; false when it had no member. */
export function killGroup(pgid: number, signal: Deno.Signal = "SIGKILL"): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while some process is in group `pgid` (zombies count until reaped). */
export function groupAlive(pgid: number): boolean {
  return killGroup(pgid, "SIGCONT");
}

/** Waits until group `pgid` has no member; false after `timeoutMs`. */
export function waitGroupGone(pgid: number, timeoutMs = 5_000): Promise<boolean> {
  return holdsWithin(() => !groupAlive(pgid), { timeoutMs, intervalMs: 5 });
}

/** Groups (of `pgids`) that still have a live (non-zombie) member. */
export async function leftoverGroups(pgids: Iterable<number>): Promise<number[]> {
  const left: number[] = [];
  for (const pgid of pgids) {
    if ((await listGroupMembers(pgid)).length > 0) left.push(pgid);
  }
  return left;
}

/** True when `pid` exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** Start time of `pid` in clock ticks, or undefined when it is gone (tells a reused pid apart). */
export async function startTicks(pid: number): Promise<number | undefined> {
  return (await readProcStat(pid))?.startTicks;
}

// ---- processes in their own group ------------------------------------------------------------

/** Options of {@linkcode startGroup}. */
export interface GroupProcessOptions {
  readonly cwd?: string;
  /** Added to this process's environment, or the whole one with `clearEnv`. */
  readonly env?: Record<string, string>;
  readonly clearEnv?: boolean;
  /** `taskset -c` CPU list to pin the process (and its children) to; taskset execs. */
  readonly cpu?: string;
  /** @default {"null"} */
  readonly stdout?: "piped" | "null";
  /** @default {"null"} */
  readonly stderr?: "piped" | "null";
}

/** A child process leading its own process group, tracked for clean-up on an interrupt. */
export interface GroupProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** The pid, which is also the pgid. */
  readonly pid: number;
  /** True once the process exited. */
  hasExited(): boolean;
  /**
   * Stops the whole group: SIGTERM and up to `graceMs` to exit (0: SIGKILL at once), then SIGKILL
   * whatever is left; waits until the group is gone and forgets it. Resolves with the exit status.
   */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Starts `argv` with stdin closed in a new process group (pinned with `cpu`) and tracks it. */
export function startGroup(
  argv: readonly string[],
  options: GroupProcessOptions = {},
): GroupProcess {
  const full = options.cpu === undefined ? argv : ["taskset", "-c", options.cpu, ...argv];
  const child = new Deno.Command(full[0]!, {
    args: full.slice(1),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env ?? {},
    clearEnv: options.clearEnv ?? false,
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "null",
    detached: true,
  }).spawn();
  const pid = child.pid;
  trackGroup(pid);
  let isExited = false;
  void child.status.then(() => isExited = true);
  const stop = async (graceMs = 0): Promise<Deno.CommandStatus> => {
    if (graceMs > 0 && killGroup(pid, "SIGTERM")) {
      await Promise.race([child.status, sleep(graceMs)]);
    }
    killGroup(pid);
    if (options.stderr === "piped") await child.stderr.cancel().catch(() => {});
    const status = await child.status;
    killGroup(pid);
    if (await waitGroupGone(pid)) untrackGroup(pid);
    return status;
  };
  return {
    child,
    pid,
    hasExited: () => isExited,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

// ---- clean-up on interrupt ------------------------------------------------------------------

/** Process groups started by this run; killed by `killAllGroups` (and on SIGINT/SIGTERM). */
const groups = new Set<number>();
const interruptHooks = new Set<() => Promise<void>>();
/** Temp dirs to remove on an interrupt (after the processes using them are gone). */
const interruptDirs = new Set<string>();
let handlersInstalled = false;
let isInterrupted = false;

/** Remembers a process group so it is killed on an interrupt. */
export function trackGroup(pgid: number): void {
  groups.add(pgid);
}

/** Forgets a process group that is known to be gone. */
export function untrackGroup(pgid: number): void {
  groups.delete(pgid);
}

/** SIGKILLs every tracked process group. */
export function killAllGroups(): void {
  for (const pgid of groups) killGroup(pgid);
  groups.clear();
}

/** Registers a clean-up to run on SIGINT/SIGTERM; returns its removal. */
export function onInterrupt(hook: () => Promise<void>): () => void {
  interruptHooks.add(hook);
  return () => interruptHooks.delete(hook);
}

/** Registers a directory to remove on SIGINT/SIGTERM; returns its removal. */
export function removeOnInterrupt(dir: string): () => void {
  interruptDirs.add(dir);
  return () => interruptDirs.delete(dir);
}

/** True once SIGINT/SIGTERM arrived (after {@linkcode installSignalCleanup}). */
export function wasInterrupted(): boolean {
  return isInterrupted;
}

/**
 * On SIGINT/SIGTERM: run the registered clean-ups (a daemon is stopped with SIGTERM, so it stops
 * its own instances) for at most 20 s, SIGKILL every tracked group left, remove the registered
 * temp dirs, then exit 130. `report` (default: a line on stderr) is told that the clean-up began.
 */
export function installSignalCleanup(report: (line: string) => void = progress): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = async (): Promise<void> => {
    if (isInterrupted) return;
    isInterrupted = true;
    report("interrupted: cleaning up …");
    await Promise.race([
      Promise.allSettled([...interruptHooks].map((hook) => hook())),
      sleep(20_000),
    ]);
    killAllGroups();
    for (const dir of interruptDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", () => void onSignal());
  Deno.addSignalListener("SIGTERM", () => void onSignal());
}

/**
 * Parks the caller for good once SIGINT/SIGTERM arrived (the clean-up then exits the process), so
 * no new process is started while or after the clean-up runs. Call before starting anything.
 */
export async function checkpoint(): Promise<void> {
  if (isInterrupted) await new Promise<never>(() => {});
}
