/**
 * The runner: starts, launches and stops instance processes, applies lifecycle events to entries
 * (carrying out their effects), persists and notifies. It serialises operations per instance with
 * a keyed lock and caps concurrent starts with a semaphore. About 400 lines because a run's
 * launch, exit and stop share its lock and generation checks; the decisions live in core/, the
 * health loop, restart policy, start-up wait and durable record in files of their own.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { parentDir } from "../config/config_paths.ts";
import type { ServiceConfig } from "../config/schema.ts";
import {
  messageOf,
  NotFoundError,
  SpawnError,
  TenementError,
  UnavailableError,
} from "../core/errors.ts";
import { describeExit, type RunEnd } from "../core/exit_decision.ts";
import {
  type Effect,
  type ExitInfo,
  type InstanceEvent,
  isStartingUp,
  isWaitingToRetry,
  reasonOf,
  transition,
} from "../core/lifecycle.ts";
import { applyProbe, type HealthLoopDeps, probeInstance, watchRun } from "./health_loop.ts";
import { type InstanceEntry, notifyChanged } from "./instance_entry.ts";
import { KeyedLock } from "./keyed_lock.ts";
import { instanceDir } from "../core/instance_dir.ts";
import { envForUser, type InstancePlan, planInstance, userRequestOf } from "./launch_spec.ts";
import type { SupervisorDeps, SupervisorMetrics } from "./ports.ts";
import { RestartPolicy } from "./restart_policy.ts";
import { Semaphore } from "../core/semaphore.ts";
import { TaskGroup } from "./task_group.ts";
import { awaitStartup, seconds } from "./startup_wait.ts";
import { withCgroup } from "./cgroup_handle.ts";
import { persistEntry } from "./instance_record.ts";
import { refuseIfDisabled } from "./instance_disable.ts";
import type { LiveConfig } from "./live_config.ts";
import { describeWake } from "./wake_report.ts";
import {
  EVENT_PREFIX,
  exitedEvent,
  failedEvent,
  failedToStartEvent,
  outOfMemoryEvent,
  readyEvent,
  restartingEvent,
  wokeEvent,
} from "../core/lifecycle_events.ts";

const log = getLogger(["tenement", "supervisor"]);

/** The reason of an explicit stop; only it discards the instance's data. */
export const STOPPED_BY_REQUEST = "stopped by request";
const STDERR_TAIL_LINES = 5;
/** Events that do not wake waiters unless they change the state's kind. */
const QUIET_EVENTS = new Set<InstanceEvent["kind"]>(["probed", "retry_cleared"]);

/** Where a stopped instance rests; undefined keeps the desired state (daemon shutdown). */
export type RestingPlace = "asleep" | "stopped" | undefined;

/** Runs instance processes. */
export class Runner {
  /** Background work: exit watchers, health loops, retries. */
  readonly tasks = new TaskGroup();
  /** One operation per instance at a time. */
  readonly locks = new KeyedLock();
  /** Where lifecycle facts are counted, if anywhere. */
  get metrics(): SupervisorMetrics | undefined {
    return this.#deps.metrics;
  }
  readonly #deps: SupervisorDeps;
  readonly #live: LiveConfig;
  readonly #starts: Semaphore;
  readonly #restarts: RestartPolicy;
  readonly #health: HealthLoopDeps;
  #isShuttingDown = false;

  constructor(deps: SupervisorDeps, live: LiveConfig) {
    this.#deps = deps;
    this.#live = live;
    // Read once: a reload reports a change of max_concurrent_starts as needing a restart.
    const limit = live.current.settings.maxConcurrentStarts;
    this.#starts = new Semaphore(limit > 0 ? limit : Math.max(2, deps.cpuCount ?? 2));
    this.#restarts = new RestartPolicy(
      () => live.current.settings,
      deps.clock,
      (entry) => this.#onRetryDue(entry),
    );
    this.#health = {
      prober: deps.prober,
      clock: deps.clock,
      get settings() {
        return live.current.settings;
      },
      apply: (entry, event) => this.apply(entry, event),
      neverListened: (entry, generation) => this.#neverListened(entry, generation),
    };
  }

  /**
   * The definition that governs the entry now: the config's when its service is still defined
   * (keys such as idle_timeout and stop_grace_period apply to running instances at once), else
   * the one its last run was started from (a service removed by a reload).
   */
  serviceOf(entry: InstanceEntry): ServiceConfig | undefined {
    return this.#live.service(entry.service) ?? entry.definition;
  }

  /** True once the daemon started shutting down: nothing new starts. */
  get isShuttingDown(): boolean {
    return this.#isShuttingDown;
  }

  /** Stops starting anything and aborts background work (without waiting for it). */
  beginShutdown(): void {
    this.#isShuttingDown = true;
    this.tasks.abort();
  }

  /** Moves the entry by one lifecycle event and carries out the effects; ignores illegal ones. */
  apply(entry: InstanceEntry, event: InstanceEvent): void {
    const next = transition(entry.state, event);
    if (next === null) return;
    const previousKind = entry.state.kind;
    entry.state = next.state;
    for (const effect of next.effects) this.#carryOut(entry, effect);
    if (!QUIET_EVENTS.has(event.kind) || next.state.kind !== previousKind) notifyChanged(entry);
  }

  #carryOut(entry: InstanceEntry, effect: Effect): void {
    switch (effect.kind) {
      case "schedule_retry":
        this.event(entry, restartingEvent(effect.delayMs));
        return this.#restarts.schedule(entry, effect.delayMs);
      case "reset_crash_count":
        entry.crashCount = 0;
        return;
      case "set_desired":
        entry.desired = effect.desired;
        return;
      case "report_ready":
        return this.#reportReady(entry);
      case "restart_unhealthy": {
        const { reason } = effect;
        const generation = entry.generation;
        log.warn("Restarting {key}: {reason}", { key: entry.key, reason });
        this.event(entry, `restarting, ${reason}`);
        this.tasks.run(
          `unhealthy:${entry.key}`,
          () => this.#restartUnhealthy(entry, generation, reason),
        );
        return;
      }
    }
  }

  /**
   * Launches the entry's process unless it is already starting or running. A user request (spawn,
   * restart, deploy) is an explicit start: a run that exits or never listens during its start-up
   * is stopped instead of restarted (see `awaitStartup`).
   */
  async start(entry: InstanceEntry, isUserRequest = false): Promise<void> {
    using _lock = await this.locks.acquire(entry.key);
    if (this.#isShuttingDown) throw new UnavailableError("tenement is shutting down");
    if (entry.handle) return;
    if (isUserRequest) {
      this.#cancelRetry(entry);
      if (entry.state.kind === "failed") this.#restarts.forget(entry);
    }
    await this.#launch(entry, isUserRequest);
  }

  /** Forgets crashes and restarts (`ten restart`). */
  forgetCrashes(entry: InstanceEntry): void {
    this.#restarts.forget(entry);
  }

  /**
   * Stops the entry's process (SIGTERM, grace, SIGKILL) and rests it at `next`; `onlyIf` is
   * checked once the lock is held.
   */
  async stop(
    entry: InstanceEntry,
    next: RestingPlace,
    reason: string | undefined,
    onlyIf?: () => boolean,
  ): Promise<void> {
    using _lock = await this.locks.acquire(entry.key);
    if (onlyIf && !onlyIf()) return;
    this.#cancelRetry(entry);
    const handle = entry.handle;
    const svc = this.serviceOf(entry);
    if (handle) {
      entry.runController?.abort();
      entry.generation++;
      this.apply(entry, { kind: "stop_begun" });
      await handle.stop(svc?.stopGracePeriodMs ?? 0);
      this.#afterProcessGone(entry);
      log.info("Stopped {key}{why}", { key: entry.key, why: reason ? `: ${reason}` : "" });
      this.event(entry, `stopped${reason ? `: ${reason}` : ""}`);
    }
    // What left the process group (setsid) outlives the group's stop; under the lock no new
    // run of the instance can be caught by this.
    await this.#deps.users?.endProcesses?.(entry.service, entry.id);
    // Only an explicit stop discards data: sleeping and shutdown keep it for the next wake.
    if (next === "stopped" && reason === STOPPED_BY_REQUEST && svc && !svc.storagePersist) {
      await this.#deps.files.removeDir(
        instanceDir(this.#live.current.settings.dataDir, svc.name, entry.id),
      );
    }
    if (next !== undefined) {
      this.apply(entry, { kind: "stopped", rest: next, reason });
      entry.crashCount = 0;
    } else {
      this.apply(entry, { kind: "shutdown" });
    }
    this.persist(entry);
    notifyChanged(entry);
  }

  /** See {@linkcode awaitStartup}. */
  awaitStartup(entry: InstanceEntry, svc: ServiceConfig): Promise<string | undefined> {
    return awaitStartup(entry, svc, this.#deps.clock);
  }

  /** Runs one health probe of a ready instance now and records its result. */
  async probeNow(entry: InstanceEntry): Promise<void> {
    const svc = entry.definition;
    if (entry.port === undefined || !entry.handle || entry.state.kind !== "ready" || !svc) return;
    const result = await probeInstance(this.#deps.prober, entry, svc);
    applyProbe(this.#health, entry, result, entry.generation);
  }

  /** Writes the entry's durable record (queued behind its previous writes). */
  persist(entry: InstanceEntry): void {
    // A forgotten instance must not come back from the store after the next daemon start.
    if (entry.isForgotten) return;
    persistEntry(entry, this.#deps.repo, this.#deps.reaper);
  }

  async #launch(entry: InstanceEntry, isExplicit = false): Promise<void> {
    const deps = this.#deps;
    if (entry.isForgotten) throw new NotFoundError(`Instance not found: ${entry.key}`);
    refuseIfDisabled(entry);
    entry.isExplicitStart = isExplicit;
    entry.startupFailure = undefined;
    // Starts are CPU bound: the slot is held until the instance is ready or its start-up time ends.
    const slot = await this.#starts.acquire();
    // One snapshot of the config for the whole launch, taken once the slot is ours: a reload
    // meanwhile applies to this start, and never half of it.
    const config = this.#live.current;
    const svc = config.services.get(entry.service);
    if (svc === undefined) {
      slot[Symbol.dispose]();
      throw new NotFoundError(
        `Cannot start ${entry.key}: service "${entry.service}" is not defined in the config`,
      );
    }
    // A request's wake belongs to this run alone.
    entry.startTimes = {
      requestedAtMs: entry.wakeRequestedAtMs,
      launchingAtMs: deps.clock.now(),
      launchedAtMs: undefined,
      listeningAtMs: undefined,
    };
    entry.wakeRequestedAtMs = undefined;
    let port: number;
    try {
      port = await deps.portPool.allocate();
    } catch (err: unknown) {
      slot[Symbol.dispose]();
      throw err;
    }
    let plan: InstancePlan;
    try {
      plan = planInstance({
        service: svc,
        id: entry.id,
        dataDir: config.settings.dataDir,
        port,
        baseEnv: deps.baseEnv,
      });
    } catch (err: unknown) {
      // A command that cannot be split: give back the start slot and the port, or later starts
      // would wait for a slot that never frees.
      slot[Symbol.dispose]();
      deps.portPool.release(port);
      throw err;
    }
    const generation = ++entry.generation;
    const launchedAtMs = deps.clock.now();
    let handle;
    let trustSocket: (() => Promise<boolean>) | undefined;
    let checkPort: (() => Promise<string | undefined>) | undefined;
    try {
      const files = deps.files;
      await Promise.all([
        files.ensureDir(plan.instanceDir),
        files.ensureDir(parentDir(plan.socketPath)).then(() => files.removeFile(plan.socketPath)),
      ]);
      const request = userRequestOf(svc, entry.id, config.settings, plan);
      const user = await deps.users?.prepare(request);
      const users = deps.users;
      // A root proxy must not connect through a socket path the instance's user can swap.
      if (user !== undefined && users?.trustSocket !== undefined) {
        const run = { socketPath: plan.socketPath, socketDir: request.socketDir, user };
        trustSocket = () => users.trustSocket!(run);
      }
      // A port reached over TCP must be held by the instance's own uid, not by whoever bound it
      // first while the app was starting.
      if (user !== undefined && users?.checkPort !== undefined && svc.network !== "none") {
        checkPort = () => users.checkPort!({ port, user });
      }
      // Created before the spawn, so the process is in it from its first instruction.
      const cgroup = await deps.cgroups?.create(svc, entry.id);
      handle = await deps.launcher.launch({
        argv: plan.argv,
        env: envForUser(plan, user),
        cwd: plan.cwd,
        isolation: svc.isolation,
        instanceDir: plan.instanceDir,
        socketPath: plan.socketPath,
        dataDir: config.settings.dataDir,
        network: svc.network,
        mounts: svc.mounts,
        ...(user === undefined ? {} : { user }),
        ...(cgroup && { cgroupProcs: cgroup.procsFiles }),
        onLine: (stream, line) => {
          if (stream === "stderr" && line.trim() !== "") {
            entry.lastStderr = line;
            entry.stderrTail.push(line);
            if (entry.stderrTail.length > STDERR_TAIL_LINES) entry.stderrTail.shift();
          }
          deps.logs.append(entry.service, entry.id, stream, line);
        },
      }).catch(async (err: unknown) => {
        await cgroup?.destroy();
        throw err;
      });
      if (cgroup) handle = withCgroup(handle, cgroup);
    } catch (err: unknown) {
      slot[Symbol.dispose]();
      deps.portPool.release(port);
      const message = messageOf(err);
      this.event(entry, message);
      if (entry.generation !== generation || this.#isShuttingDown) {
        throw err instanceof TenementError ? err : new SpawnError(message, { cause: err });
      }
      if (isExplicit) {
        this.#failStartup(entry, message, message);
        throw new SpawnError(
          `${message}. ${entry.key} is stopped; fix it and run ten spawn again`,
          { cause: err },
        );
      }
      this.#decide(entry, { kind: "start_failed", message });
      throw err instanceof TenementError ? err : new SpawnError(message, { cause: err });
    }
    entry.handle = handle;
    entry.definition = svc;
    entry.startTimes.launchedAtMs = launchedAtMs;
    entry.port = port;
    entry.socketPath = plan.socketPath;
    entry.isSocketListening = false;
    entry.startedAtMs = launchedAtMs;
    entry.lastActivityMs = deps.clock.now();
    entry.lastStderr = "";
    entry.stderrTail = [];
    const controller = new AbortController();
    entry.runController = controller;
    entry.desired = "running";
    this.apply(entry, { kind: "launched", nowMs: deps.clock.now() });
    this.persist(entry);
    log.info("Started {key} (pid {pid}) on port {port}", { key: entry.key, pid: handle.pid, port });
    this.event(entry, `spawned (pid ${handle.pid}, port ${port})`);
    this.tasks.run(`exit:${entry.key}#${generation}`, async () => {
      const exit = await handle.exited;
      this.#onExit(entry, generation, exit);
    });
    this.tasks.run(`run:${entry.key}#${generation}`, (groupSignal) =>
      watchRun(this.#health, {
        entry,
        svc,
        generation,
        signal: AbortSignal.any([groupSignal, controller.signal]),
        startSlot: slot,
        ...(trustSocket && { trustSocket }),
        ...(checkPort && { checkPort }),
      }));
  }

  /** The process of run `generation` exited on its own. */
  #onExit(entry: InstanceEntry, generation: number, exit: ExitInfo): void {
    if (entry.generation !== generation) return;
    const handle = entry.handle;
    entry.generation++;
    entry.runController?.abort();
    this.#afterProcessGone(entry);
    const message = `Process exited unexpectedly (pid ${handle?.pid}): ${
      describeExit(exit, entry.lastStderr)
    }`;
    this.event(entry, exitedEvent(handle?.pid, describeExit(exit, entry.lastStderr)));
    log.warn("{key}: {message}", { key: entry.key, message });
    if (exit.oom) this.#reportOutOfMemory(entry, exit.oom.memoryLimitMb);
    if (handle) this.tasks.run(`reap:${entry.key}`, () => handle.killRemnants());
    if (this.#isShuttingDown) {
      this.apply(entry, { kind: "shutdown" });
      return;
    }
    if (entry.isExplicitStart && isStartingUp(entry.state)) {
      const reason = describeExit(exit, entry.lastStderr);
      this.#failStartup(entry, `${entry.key} exited during start-up: ${reason}`, reason);
      return;
    }
    this.#decide(entry, { kind: "exited", exit, lastStderr: entry.lastStderr });
  }

  /** The OOM killer ended the entry's run at its memory limit: a log event and a metric. */
  #reportOutOfMemory(entry: InstanceEntry, limitMb: number): void {
    this.event(entry, outOfMemoryEvent(limitMb));
    this.#deps.metrics?.oomKilled?.(entry.service, entry.id);
  }

  /**
   * The explicitly started run `generation` never listened by the end of its start-up: it is
   * stopped (desired stopped), not restarted, and the spawn waiting for it fails.
   */
  #neverListened(entry: InstanceEntry, generation: number): void {
    const timeoutMs = entry.definition?.startupTimeoutMs ?? 0;
    const reason = `nothing is listening on port ${entry.port} after ${
      seconds(timeoutMs)
    } s: the app must listen on $PORT`;
    this.event(entry, `stopping, ${reason}`);
    this.tasks.run(`never-listened:${entry.key}#${generation}`, async () => {
      await this.stop(entry, "stopped", reason, () => {
        if (entry.generation !== generation || !entry.handle) return false;
        entry.startupFailure = `${entry.key} did not start: ${reason}`;
        return true;
      });
    });
  }

  /** Rests an explicitly started entry whose start-up failed as stopped, with no retry. */
  #failStartup(entry: InstanceEntry, failure: string, reason: string): void {
    log.warn("{key} failed to start and is stopped: {reason}", { key: entry.key, reason });
    this.event(entry, failedToStartEvent(reason));
    entry.startupFailure = failure;
    this.apply(entry, { kind: "stopped", rest: "stopped", reason });
    entry.crashCount = 0;
    this.persist(entry);
  }

  async #restartUnhealthy(entry: InstanceEntry, generation: number, reason: string): Promise<void> {
    const handle = entry.handle;
    if (entry.generation !== generation || !handle) return;
    using _lock = await this.locks.acquire(entry.key);
    if (entry.generation !== generation || entry.handle !== handle) return;
    entry.runController?.abort();
    entry.generation++;
    this.apply(entry, { kind: "stop_begun" });
    await handle.stop(this.serviceOf(entry)?.stopGracePeriodMs ?? 0);
    this.#afterProcessGone(entry);
    this.#decide(entry, { kind: "unhealthy", message: reason });
  }

  #afterProcessGone(entry: InstanceEntry): void {
    if (entry.port !== undefined) {
      this.#deps.portPool.release(entry.port);
      this.#deps.onStopped?.(entry.port);
    }
    entry.handle = undefined;
    entry.port = undefined;
  }

  /** Applies the restart policy after an unplanned end of a run. */
  #decide(entry: InstanceEntry, end: RunEnd): void {
    if (!this.#live.current.services.has(entry.service)) {
      // Its service was removed by a reload: it ran until it ended, and starts no more.
      this.retire(
        entry,
        end.kind === "exited" ? describeExit(end.exit, end.lastStderr) : end.message,
      );
      return;
    }
    const svc = this.#live.service(entry.service)!;
    const decision = this.#restarts.decide(entry, end, svc.restart);
    this.apply(entry, { kind: "ended", decision, nowMs: this.#deps.clock.now() });
    if (entry.state.kind === "failed") this.event(entry, failedEvent(entry.state.reason));
    this.persist(entry);
  }

  /**
   * Rests an entry without a process as stopped, dropping any pending retry: its service was
   * removed from the config, so nothing starts it again.
   */
  retire(entry: InstanceEntry, why: string): void {
    if (entry.handle) return;
    this.#cancelRetry(entry);
    this.apply(entry, {
      kind: "stopped",
      rest: "stopped",
      reason: `${why}; service "${entry.service}" was removed from the config`,
    });
    entry.crashCount = 0;
    this.persist(entry);
  }

  /** Drops the entry's pending retry (a forgotten failed instance is not retried). */
  dropRetry(entry: InstanceEntry): void {
    this.#cancelRetry(entry);
  }

  /** Reports a finished start: the wake report when a request woke the instance. */
  #reportReady(entry: InstanceEntry): void {
    const state = entry.state;
    if (state.kind !== "ready") return;
    entry.hasBeenReady = true;
    if (entry.startedAtMs !== undefined) {
      this.event(entry, readyEvent(state.readyAtMs - entry.startedAtMs));
    }
    const wake = describeWake(entry.startTimes, state.readyAtMs);
    entry.startTimes.requestedAtMs = undefined;
    if (wake === undefined) return;
    this.#deps.metrics?.woke(entry.service, entry.id, wake);
    this.event(entry, wokeEvent(wake.totalMs, wake.phases));
    log.info(`Woke {key} in {ms} ms ({phases})`, {
      key: entry.key,
      ms: wake.totalMs,
      phases: wake.phases,
    });
  }

  /** A lifecycle fact in the instance's log, as an `event` line ("tenement: …"). */
  event(entry: InstanceEntry, message: string): void {
    this.#deps.logs.append(entry.service, entry.id, "event", `${EVENT_PREFIX}${message}`);
  }

  #cancelRetry(entry: InstanceEntry): void {
    this.#restarts.cancel(entry);
    this.apply(entry, { kind: "retry_cleared" });
  }

  #onRetryDue(entry: InstanceEntry): void {
    this.apply(entry, { kind: "retry_cleared" });
    if (this.#isShuttingDown) return;
    this.tasks.run(`retry:${entry.key}`, async () => {
      using _lock = await this.locks.acquire(entry.key);
      if (entry.handle || !isWaitingToRetry(entry.state)) return;
      if (!this.#live.current.services.has(entry.service)) {
        return this.retire(entry, reasonOf(entry.state) ?? "ended");
      }
      entry.restartsTotal++;
      this.#deps.metrics?.restarted(entry.service, entry.id);
      try {
        await this.#launch(entry);
      } catch (err: unknown) {
        log.warn("Restart of {key} failed: {err}", { key: entry.key, err: messageOf(err) });
      }
    });
  }
}
