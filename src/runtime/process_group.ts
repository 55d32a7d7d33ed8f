/**
 * Starts each instance as the leader of its own process group (`detached`), captures its output
 * line by line, and stops the whole group: SIGTERM, a grace period, then SIGKILL, until no member
 * is left. `Deno.ChildProcess`'s own dispose signals only the direct child, so this handle signals
 * `-pid` instead.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { messageOf, SpawnError } from "../core/errors.ts";
import type { ExitInfo } from "../core/lifecycle.ts";
import type { Isolation } from "../config/schema.ts";
import { listGroupMembers, readProcStatNow } from "./proc_stat.ts";
import { wrapArgv, type WrapUser } from "./launch_argv.ts";
import { findSystemTool } from "./system_tool.ts";

const log = getLogger(["tenement", "process"]);

/** Longest line kept whole; longer output is split so one chatty line cannot grow memory. */
const MAX_LINE_CHARS = 16 * 1024;

/** Same shape as the supervisor's LaunchSpec. */
export interface GroupLaunchSpec {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly isolation: Isolation;
  readonly onLine: (stream: "stdout" | "stderr", line: string) => void;
  readonly instanceDir?: string;
  readonly socketPath?: string;
  readonly user?: WrapUser;
  readonly cgroupProcs?: readonly string[];
}

/** Finds the program to run: paths with a slash resolve against `cwd`, bare names via PATH. */
async function resolveProgram(
  program: string,
  cwd: string,
  pathVar: string | undefined,
): Promise<string> {
  if (program.includes("/")) {
    const full = program.startsWith("/") ? program : `${cwd}/${program}`;
    if (await isExecutable(full)) return full;
    throw new SpawnError(`Cannot start ${JSON.stringify(program)}: no executable file at ${full}`);
  }
  const dirs = (pathVar ?? "").split(":").filter((d) => d !== "");
  for (const dir of dirs) {
    const full = `${dir}/${program}`;
    if (await isExecutable(full)) return full;
  }
  throw new SpawnError(
    `Cannot start ${JSON.stringify(program)}: command not found in PATH (${dirs.join(":")})`,
  );
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && info.mode !== null && (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Starts process groups. */
export class GroupLauncher {
  /** Spawns `spec.argv` as a new process group; throws SpawnError with the reason on failure. */
  async launch(spec: GroupLaunchSpec): Promise<GroupHandle> {
    if (spec.isolation !== "process") {
      throw new SpawnError(
        `Cannot start with isolation = ${
          JSON.stringify(spec.isolation)
        }: this build of tenement runs isolation = "process" only; set isolation = "process" for this service`,
      );
    }
    const [program, ...args] = spec.argv;
    if (program === undefined || program === "") {
      throw new SpawnError("Cannot start: empty command");
    }
    const resolved = await resolveProgram(program, spec.cwd, spec.env["PATH"]);
    const [outer, ...outerArgs] = wrapArgv({
      argv: [resolved, ...args],
      isolation: spec.isolation,
      user: spec.user,
      setprivPath: spec.user === undefined
        ? undefined
        : await findSystemTool("setpriv", "util-linux"),
      cgroupProcs: spec.cgroupProcs,
    });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(outer!, {
        args: outerArgs,
        cwd: spec.cwd,
        env: { ...spec.env },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (err: unknown) {
      throw new SpawnError(`Cannot start ${JSON.stringify(program)}: ${messageOf(err)}`, {
        cause: err,
      });
    }
    const stat = readProcStatNow(child.pid);
    const outputDone = Promise.all([
      pumpLines(child.stdout, (line) => spec.onLine("stdout", line)),
      pumpLines(child.stderr, (line) => spec.onLine("stderr", line)),
    ]).then(() => {});
    return new GroupHandle(child, stat?.startTicks, outputDone);
  }
}

/** A live process group. */
export class GroupHandle {
  readonly pid: number;
  readonly startTicks: number | undefined;
  readonly exited: Promise<ExitInfo>;
  readonly #outputDone: Promise<void>;

  constructor(child: Deno.ChildProcess, startTicks: number | undefined, outputDone: Promise<void>) {
    this.pid = child.pid;
    this.startTicks = startTicks;
    this.#outputDone = outputDone;
    this.exited = child.status.then((s) => ({
      code: s.signal === null ? s.code : null,
      signal: s.signal,
    }));
  }

  /** SIGTERM the group, wait up to `graceMs`, SIGKILL what is left; resolves when all are gone. */
  async stop(graceMs: number): Promise<ExitInfo> {
    signalGroup(this.pid, "SIGTERM");
    const isGone = await waitGroupGone(this.pid, this.exited, graceMs);
    if (!isGone) {
      log.info("Process group {pid} still running after {graceMs} ms grace, sending SIGKILL", {
        pid: this.pid,
        graceMs,
      });
      await this.killRemnants();
    }
    await this.#outputDone;
    return await this.exited;
  }

  /** SIGKILL every member of the group and wait until none is left. */
  async killRemnants(): Promise<void> {
    signalGroup(this.pid, "SIGKILL");
    if (!await waitGroupGone(this.pid, this.exited, 5_000)) {
      log.error("Process group {pid} survived SIGKILL for 5 s", { pid: this.pid });
    }
    await this.#outputDone;
  }
}

/** Sends `signal` to process group `pgid`; true when some process received it. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until the leader has exited and no member of group `pgid` is alive, up to `timeoutMs`.
 * Zombies that nobody reaped yet do not count as alive.
 */
export async function waitGroupGone(
  pgid: number,
  leaderExited: Promise<unknown>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const isLeaderDone = await Promise.race([
    leaderExited.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
  ]);
  clearTimeout(timer);
  if (!isLeaderDone) return false;
  let waitMs = 2;
  while (true) {
    if (!signalGroup(pgid, "SIGCONT")) return true;
    if (Date.now() >= deadline - waitMs) {
      return (await listGroupMembers(pgid)).length === 0;
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    waitMs = Math.min(waitMs * 2, 50);
    if (waitMs === 50 && (await listGroupMembers(pgid)).length === 0) return true;
  }
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let pending = "";
  const emit = (text: string): void => {
    for (let i = 0; i < text.length; i += MAX_LINE_CHARS) {
      onLine(text.slice(i, i + MAX_LINE_CHARS));
    }
  };
  try {
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        emit(pending.slice(0, newline).replace(/\r$/, ""));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
      if (pending.length > MAX_LINE_CHARS) {
        emit(pending);
        pending = "";
      }
    }
  } catch (err: unknown) {
    log.debug("Output stream ended with {err}", { err: messageOf(err) });
  }
  pending += decoder.decode();
  if (pending !== "") emit(pending);
}
