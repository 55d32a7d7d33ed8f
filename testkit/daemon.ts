/**
 * A real `ten serve` from this checkout, in its own process group, for tests and benchmarks: it
 * listens on 127.0.0.1 port 0, is driven through the management API (the calls it inherits from
 * {@linkcode DaemonClient}) and the CLI, and on dispose it is stopped and every process group it
 * or its instances ever had is checked (tests: asserted gone; benchmarks: killed with a
 * warning). Benchmark options: CPU pinning (`taskset`), V8 flags, and a GC hook
 * (testkit/gc_preload.ts) for GC-settled memory readings.
 * @module
 */
import { equal } from "node:assert/strict";
import { type CliResult, runTen, tokenOf } from "./cli.ts";
import { progress } from "./output.ts";
import { DENO, ROOT, tenArgs } from "./paths.ts";
import {
  checkpoint,
  killGroup,
  leftoverGroups,
  onInterrupt,
  startGroup,
  untrackGroup,
  waitGroupGone,
} from "./process_groups.ts";
import { DaemonClient } from "./daemon_client.ts";
import { holdsWithin } from "./wait.ts";

/** Line testkit/gc_preload.ts writes after a forced GC. */
const GC_MARKER = "tenement-bench: gc done";
const LISTENING = /tenement listening on http:\/\/[^:\s]+:(\d+)/;

/** Options of {@linkcode Daemon}. */
export interface DaemonOptions {
  /** Working directory; holds tenement.toml. */
  readonly dir: string;
  /** Environment of the daemon and its CLI runs, added to this process's (see `clearEnv`). */
  readonly env?: Record<string, string>;
  /** Give the daemon `env` alone instead of adding it to this process's. @default {false} */
  readonly clearEnv?: boolean;
  /** More environment for `ten serve` only (not for CLI runs), e.g. a log level. */
  readonly serveEnv?: Record<string, string>;
  /** `--domain` of `ten serve`; the config's (or the default) when absent. */
  readonly domain?: string;
  /**
   * How `ten serve` is run: `deno run … main.ts` from this deno, or `bin/ten` (the launcher users
   * run, which execs the same command). With V8 flags or the GC hook deno is always run directly.
   * @default {"deno"}
   */
  readonly launcher?: "deno" | "bin/ten";
  /** Keep at most about this much stderr (its head and a tail). @default {Infinity} */
  readonly maxStderrBytes?: number;
  /**
   * What dispose does about process groups still alive once the daemon stopped: kill them and
   * fail (`"assert"`, tests), or kill them and say so on stderr (`"warn"`, benchmarks).
   * @default {"assert"}
   */
  readonly onLeftover?: "assert" | "warn";
  /** Disposed after the daemon (e.g. the temp dir that holds it). */
  readonly owns?: AsyncDisposable;
}

/** Options of {@linkcode Daemon.start}. */
export interface DaemonStartOptions {
  /** How long to wait for the listening line. @default {60_000} */
  readonly timeoutMs?: number;
  /** Run with `--expose-gc` and testkit/gc_preload.ts, for `forceGc()`. @default {false} */
  readonly gcHook?: boolean;
  /** `taskset -c` CPU list to pin the daemon (and the instances it starts) to. */
  readonly cpu?: string;
  /** V8 flags (comma-separated) for the daemon's deno. */
  readonly v8Flags?: string;
}

/** A running `ten serve` in its own process group. */
export class Daemon extends DaemonClient implements AsyncDisposable {
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  /** Warning and error lines of every run of this daemon (the first 50 kept). */
  readonly problems: string[] = [];
  /** How many warning and error lines there were in all. */
  problemCount = 0;
  /** `Deno.memoryUsage()` inside the daemon after the last forceGc(). */
  lastHeap: Deno.MemoryUsage | undefined;
  readonly #options: DaemonOptions;
  #child: Deno.ChildProcess | undefined;
  #isRunning = false;
  #stderr = "";
  #stderrDone: Promise<void> = Promise.resolve();
  #gcCount = 0;
  #removeHook: (() => void) | undefined;

  constructor(options: DaemonOptions) {
    super();
    this.#options = options;
    this.dir = options.dir;
    this.dataDir = `${options.dir}/data`;
    this.configPath = `${options.dir}/tenement.toml`;
  }

  /** The daemon's pid (the deno process: `bin/ten` and `taskset` exec it). */
  get pid(): number {
    return this.#started().pid;
  }

  /** What the daemon wrote to stderr in its current run (bounded by `maxStderrBytes`). */
  get stderr(): string {
    return this.#stderr;
  }

  #started(): Deno.ChildProcess {
    if (this.#child === undefined) throw new Error("ten serve was not started");
    return this.#child;
  }

  #command(args: readonly string[], denoFlags: readonly string[] = []): string[] {
    const viaBin = this.#options.launcher === "bin/ten" && denoFlags.length === 0;
    return viaBin ? [`${ROOT}/bin/ten`, ...args] : [DENO, ...tenArgs(denoFlags), ...args];
  }

  /** Runs a CLI verb against this daemon with its config and env. */
  ten(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runTen(["--server", this.url, "--config", this.configPath, ...args], {
      cwd: this.dir,
      env: { ...this.#options.env, ...env },
      clearEnv: this.#options.clearEnv ?? false,
    });
  }

  /** Writes tenement.toml. */
  async writeConfig(config: string): Promise<void> {
    await Deno.writeTextFile(this.configPath, config);
  }

  /** Makes the admin token with `ten token-gen`. */
  async makeToken(): Promise<string> {
    this.token = await this.#tokenGen([]);
    return this.token;
  }

  /** Makes a tenant token (`ten token-gen --tenant`) for `tenant` (an id or `service:id`). */
  tenantToken(tenant: string): Promise<string> {
    return this.#tokenGen(["--tenant", tenant]);
  }

  async #tokenGen(options: readonly string[]): Promise<string> {
    const argv = this.#command(["token-gen", ...options, "--config", this.configPath]);
    const res = await runTen(argv.slice(1), {
      cwd: this.dir,
      env: this.#options.env ?? {},
      clearEnv: this.#options.clearEnv ?? false,
      program: argv[0]!,
    });
    if (res.code !== 0) throw new Error(`ten token-gen failed: ${res.stdout}${res.stderr}`);
    return tokenOf(res.stdout);
  }

  /**
   * Starts `ten serve --port 0 --bind 127.0.0.1` and waits until it listens. With `gcHook` or
   * `v8Flags`, deno runs with those V8 flags; `gcHook` adds `--expose-gc --preload
   * testkit/gc_preload.ts`, so `forceGc()` works. With `cpu`, the daemon is pinned to that CPU
   * (and so are the instances it starts).
   */
  async start(options: DaemonStartOptions = {}): Promise<void> {
    const { timeoutMs = 60_000, gcHook = false, cpu, v8Flags } = options;
    await checkpoint();
    this.#stderr = "";
    const v8 = [...(gcHook ? ["--expose-gc"] : []), ...(v8Flags === undefined ? [] : [v8Flags])];
    const denoFlags = v8.length === 0 ? [] : [
      `--v8-flags=${v8.join(",")}`,
      ...(gcHook ? ["--preload", `${ROOT}/testkit/gc_preload.ts`] : []),
    ];
    const domain = this.#options.domain === undefined ? [] : ["--domain", this.#options.domain];
    const serve = this.#command([
      "serve",
      "--port",
      "0",
      "--bind",
      "127.0.0.1",
      ...domain,
      "--config",
      this.configPath,
    ], denoFlags);
    // Pinned with `taskset -c CPU`, which execs: the pid stays the daemon's, and the instances
    // it starts inherit the affinity.
    const { child } = startGroup(serve, {
      cwd: this.dir,
      env: { ...this.#options.env, ...this.#options.serveEnv },
      clearEnv: this.#options.clearEnv ?? false,
      stderr: "piped",
      ...(cpu === undefined ? {} : { cpu }),
    });
    this.#child = child;
    this.#isRunning = true;
    void child.status.then(() => this.#isRunning = false);
    this.groups.add(child.pid);
    this.#removeHook ??= onInterrupt(async () => {
      await this.stop(15_000);
    });
    const listening = Promise.withResolvers<number>();
    this.#stderrDone = this.#readStderr(child, listening);
    const timer = setTimeout(
      () => listening.reject(new Error(`ten serve not listening after ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      this.port = await listening.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  async #readStderr(
    child: Deno.ChildProcess,
    listening: PromiseWithResolvers<number>,
  ): Promise<void> {
    const dec = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stderr) {
      pending += dec.decode(chunk, { stream: true });
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        this.#onStderrLine(pending.slice(0, nl), listening);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
    }
    if (pending !== "") this.#onStderrLine(pending, listening);
    listening.reject(new Error(`ten serve exited before listening:\n${this.#stderr}`));
  }

  #onStderrLine(line: string, listening: PromiseWithResolvers<number>): void {
    const at = line.indexOf(GC_MARKER);
    if (at >= 0) {
      try {
        this.lastHeap = JSON.parse(line.slice(at + GC_MARKER.length)) as Deno.MemoryUsage;
      } catch {
        this.lastHeap = undefined;
      }
      this.#gcCount++;
      return;
    }
    if (/\[(WRN|ERR|FTL)\]/.test(line)) {
      this.problemCount++;
      if (this.problems.length < 50) this.problems.push(line);
    }
    this.#stderr += `${line}\n`;
    const limit = this.#options.maxStderrBytes ?? Infinity;
    if (this.#stderr.length > limit) {
      // Keep the head (listening line, start-up errors) and a bounded tail.
      this.#stderr = `${this.#stderr.slice(0, limit / 16)}…\n${this.#stderr.slice(-limit / 4)}`;
    }
    const m = LISTENING.exec(line);
    if (m) listening.resolve(Number(m[1]));
  }

  /** Two full GCs in the daemon (needs the `gcHook` start option); false when no marker came. */
  forceGc(timeoutMs = 10_000): Promise<boolean> {
    const before = this.#gcCount;
    Deno.kill(this.pid, "SIGUSR2");
    return holdsWithin(() => this.#gcCount > before, { timeoutMs, intervalMs: 10 });
  }

  /** Sends `signal` to the daemon (not its instances). */
  signal(signal: Deno.Signal): void {
    Deno.kill(this.pid, signal);
  }

  /** Waits for the daemon to exit; returns the exit code. */
  async exited(): Promise<number> {
    const status = await this.#started().status;
    await this.#stderrDone.catch(() => {});
    return status.code;
  }

  /** SIGKILLs the daemon alone (its instances live on as orphans). */
  async kill9(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited();
  }

  /**
   * Sends SIGTERM and waits for the exit; after `timeoutMs` the daemon's group is SIGKILLed.
   * Returns the exit code, or null when the daemon was not running.
   */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.#isRunning) return null;
    this.signal("SIGTERM");
    const timer = setTimeout(() => killGroup(child.pid), timeoutMs);
    try {
      return await this.exited();
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops the daemon if running (after listing its instances, so their groups are known), then
   * kills every group left of this daemon and its instances: a failure in tests, a warning in
   * benchmarks.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#isRunning) {
      await this.instances({ timeoutMs: 5_000 }).catch(() => {
        // The daemon no longer answers: nothing to learn from it.
      });
      await this.stop();
    }
    this.#removeHook?.();
    this.#removeHook = undefined;
    const left = await leftoverGroups(this.groups);
    for (const pgid of left) killGroup(pgid);
    for (const pgid of this.groups) {
      if (!left.includes(pgid) || await waitGroupGone(pgid)) untrackGroup(pgid);
    }
    await this.#options.owns?.[Symbol.asyncDispose]();
    if (this.#options.onLeftover === "warn") {
      for (const pgid of left) {
        progress(`warning: process group ${pgid} outlived ten serve; killed it`);
      }
    } else {
      equal(left.length, 0, `process groups left behind: ${left.join(", ")}`);
    }
  }
}
