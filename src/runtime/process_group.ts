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
import type { Isolation, Mount, Network } from "../config/schema.ts";
import { listDescendants, listGroupMembers, readProcStatNow } from "./proc_stat.ts";
import { wrapArgv, type WrapUser } from "./launch_argv.ts";
import { prepareIsolation } from "./isolation_setup.ts";
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
  readonly dataDir?: string;
  readonly network?: Network;
  readonly mounts?: readonly Mount[];
}

/** The isolation levels this build runs. */
const RUNNABLE: readonly Isolation[] = ["process", "namespace", "sandbox"];

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
    if (!RUNNABLE.includes(spec.isolation)) {
      throw new SpawnError(
        `Cannot start with isolation = ${
          JSON.stringify(spec.isolation)
        }: this build of tenement runs isolation = "process", "namespace" or "sandbox"; set one of them for this service`,
      );
    }
    const [program, ...args] = spec.argv;
    if (program === undefined || program === "") {
      throw new SpawnError("Cannot start: empty command");
    }
    const resolved = await resolveProgram(program, spec.cwd, spec.env["PATH"]);
    const argv = [resolved, ...args];
    const isolated = await prepareIsolation({
      isolation: spec.isolation,
      argv,
      cwd: spec.cwd,
      dataDir: spec.dataDir,
      instanceDir: spec.instanceDir,
      socketPath: spec.socketPath,
      user: spec.user,
      network: spec.network,
      mounts: spec.mounts,
    });
    const [outer, ...outerArgs] = wrapArgv({
      argv,
      isolation: spec.isolation,
      wrapperPath: isolated.wrapperPath,
      user: isolated.user,
      setprivPath: isolated.user === undefined
        ? undefined
        : await findSystemTool("setpriv", "util-linux"),
      cgroupProcs: spec.cgroupProcs,
      dataDir: spec.dataDir,
      instanceDir: spec.instanceDir,
      socketDir: isolated.socketDir,
      cwd: spec.cwd,
      network: spec.network,
      mounts: spec.mounts,
      view: isolated.view,
    });
    const env = { ...spec.env };
    // A socket whose directory is shared (e.g. with the API socket) is not bound into a namespace
    // or sandbox: the app listens on PORT alone, instead of failing to bind a hidden path.
    if (spec.isolation !== "process" && isolated.socketDir === undefined) delete env["SOCKET_PATH"];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(outer!, {
        args: outerArgs,
        cwd: spec.cwd,
        env,
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
    return new GroupHandle(child, stat?.startTicks, outputDone, spec.isolation === "sandbox");
  }
}

/** A live process group. */
export class GroupHandle {
  readonly pid: number;
  readonly startTicks: number | undefined;
  readonly exited: Promise<ExitInfo>;
  readonly #outputDone: Promise<void>;
  /**
   * bwrap's `--new-session` puts the app in a session and group of its own: a stop signals it
   * there, and never bwrap itself, which would take the sandbox down without a grace period.
   */
  readonly #isSandbox: boolean;

  constructor(
    child: Deno.ChildProcess,
    startTicks: number | undefined,
    outputDone: Promise<void>,
    isSandbox = false,
  ) {
    this.pid = child.pid;
    this.startTicks = startTicks;
    this.#outputDone = outputDone;
    this.#isSandbox = isSandbox;
    this.exited = child.status.then((s) => ({
      code: s.signal === null ? s.code : null,
      signal: s.signal,
    }));
  }

  /** SIGTERM the group, wait up to `graceMs`, SIGKILL what is left; resolves when all are gone. */
  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.#isSandbox) await signalOutsideGroup(this.pid, "SIGTERM");
    else signalGroup(this.pid, "SIGTERM");
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
    if (this.#isSandbox) await signalOutsideGroup(this.pid, "SIGKILL");
    signalGroup(this.pid, "SIGKILL");
    if (!await waitGroupGone(this.pid, this.exited, 5_000)) {
      log.error("Process group {pid} survived SIGKILL for 5 s", { pid: this.pid });
    }
    await this.#outputDone;
  }
}

/** Sends `signal` to every descendant of `pid` that left its process group (a sandbox's app). */
async function signalOutsideGroup(pid: number, signal: Deno.Signal): Promise<void> {
  for (const stat of await listDescendants(pid)) {
    if (stat.pgid === pid) continue;
    try {
      Deno.kill(stat.pid, signal);
    } catch {
      // Gone meanwhile.
    }
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
