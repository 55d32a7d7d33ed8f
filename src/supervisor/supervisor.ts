/**
 * The supervisor: sole owner of the instance table. It starts, stops, wakes, restarts and
 * health-checks instances, serialising operations per instance and running different instances in
 * parallel. Decisions come from the pure `core/lifecycle.ts`; I/O goes through `ports.ts`.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config, ServiceConfig } from "../config/schema.ts";
import {
  ConflictError,
  DeployError,
  ForbiddenError,
  messageOf,
  NotFoundError,
  SpawnError,
  TenementError,
  UnavailableError,
} from "../core/errors.ts";
import type { InstanceRef } from "../core/instance_key.ts";
import { isIdle } from "../core/idle.ts";
import { decideAfterExit, describeExit, type ExitInfo, judgeHealth } from "../core/lifecycle.ts";
import { stickyCookie } from "../core/sticky.ts";
import { pickWeighted } from "../core/weights.ts";
import { delay, waitAtMost } from "./delay.ts";
import {
  type InstanceEntry,
  type InstanceSnapshot,
  newEntry,
  snapshotOf,
} from "./instance_entry.ts";
import { KeyedLock } from "./keyed_lock.ts";
import { planInstance } from "./launch_spec.ts";
import type {
  Clock,
  LogSink,
  OrphanReaper,
  PortAllocator,
  Prober,
  ProbeResult,
  ProcessLauncher,
  StateRepo,
  StoredInstance,
  SupervisorMetrics,
  WeightChange,
} from "./ports.ts";
import type { Target, TargetResolver } from "../proxy/target.ts";
import { waitUntilReady } from "./readiness.ts";
import { Semaphore } from "./semaphore.ts";
import { SingleFlight } from "./single_flight.ts";
import { TaskGroup } from "./task_group.ts";

const log = getLogger(["tenement", "supervisor"]);

/** File-system actions the supervisor needs around a start. */
export interface InstanceFiles {
  ensureDir(path: string): Promise<void>;
  removeDir(path: string): Promise<void>;
  removeFile(path: string): Promise<void>;
}

/** Everything the supervisor is built from. */
export interface SupervisorDeps {
  readonly config: Config;
  readonly launcher: ProcessLauncher;
  readonly prober: Prober;
  readonly ports: PortAllocator;
  readonly repo: StateRepo;
  readonly logs: LogSink;
  readonly clock: Clock;
  readonly reaper: OrphanReaper;
  readonly files: InstanceFiles;
  /** Environment inherited by every instance. */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly metrics?: SupervisorMetrics;
  /** Called when an instance's port goes away, so pooled upstream connections are closed. */
  readonly onStopped?: (port: number) => void;
  /** How often idle instances are looked for. @default {1000} */
  readonly idleSweepMs?: number;
  /** Cores, for the default start concurrency. @default {2} */
  readonly cpuCount?: number;
}

/** Options for listing instances. */
export interface ListOptions {
  /** Include asleep, stopped and failed instances. */
  readonly all?: boolean;
  readonly service?: string;
  readonly id?: string;
}

const DEFAULT_WEIGHT = 100;
const STOPPED_BY_REQUEST = "stopped by request";
const STDERR_TAIL_LINES = 5;
const PROBE_TIMEOUT_MS = 5_000;

/** The instance supervisor. */
export class Supervisor implements TargetResolver, AsyncDisposable {
  readonly #d: SupervisorDeps;
  readonly #entries = new Map<string, InstanceEntry>();
  /** The same entries by service, for the weighted route (entries are never removed). */
  readonly #entriesOfService = new Map<string, InstanceEntry[]>();
  /** The entry each target handed to the proxy belongs to (no key string per request). */
  readonly #entryOfTarget = new WeakMap<Target, InstanceEntry>();
  readonly #locks = new KeyedLock();
  readonly #wakes = new SingleFlight<void>();
  readonly #starts: Semaphore;
  readonly #tasks = new TaskGroup();
  readonly #createdAtMs = new Map<string, number[]>();
  #isShuttingDown = false;

  constructor(deps: SupervisorDeps) {
    this.#d = deps;
    const limit = deps.config.settings.maxConcurrentStarts;
    this.#starts = new Semaphore(limit > 0 ? limit : Math.max(2, deps.cpuCount ?? 2));
  }

  /** Kills leftovers of a previous run, restores the table, and starts what should run. */
  async start(): Promise<void> {
    const { config, repo, reaper } = this.#d;
    const weights = new Map(
      (await repo.listWeights()).map((w) => [`${w.service}:${w.id}`, w.weight] as const),
    );
    for (const stored of await repo.listInstances()) {
      if (stored.process) await reaper.reap(stored.process);
      if (!config.services.has(stored.service)) {
        log.warn("Ignoring stored instance {key}: service is no longer in the config", {
          key: `${stored.service}:${stored.id}`,
        });
        continue;
      }
      const status = stored.desired === "running" ? "stopped" : stored.desired;
      const entry = newEntry(stored.service, stored.id, {
        origin: stored.origin,
        desired: stored.desired,
        status,
        weight: weights.get(`${stored.service}:${stored.id}`) ?? DEFAULT_WEIGHT,
        restartsTotal: stored.restartsTotal,
      }, this.#d.clock.now());
      this.#addEntry(entry);
      if (stored.process) this.#persist(entry);
    }
    for (const [service, ids] of config.instances) {
      for (const id of ids) {
        if (this.#entries.has(`${service}:${id}`)) continue;
        const entry = newEntry(service, id, {
          origin: "config",
          desired: "running",
          status: "stopped",
          weight: weights.get(`${service}:${id}`) ?? DEFAULT_WEIGHT,
          restartsTotal: 0,
        }, this.#d.clock.now());
        this.#addEntry(entry);
      }
    }
    for (const entry of this.#entries.values()) {
      if (entry.desired !== "running") continue;
      entry.status = "starting";
      this.#tasks.run(`start:${entry.key}`, async () => {
        try {
          await this.#startEntry(entry);
        } catch (err: unknown) {
          log.error("Cannot start {key}: {err}", { key: entry.key, err: messageOf(err) });
        }
      });
    }
    this.#tasks.run("idle-sweep", (signal) => this.#idleSweep(signal));
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Snapshots of instances, ordered by service then id. */
  list(options: ListOptions = {}): InstanceSnapshot[] {
    const out: InstanceSnapshot[] = [];
    for (const e of this.#entries.values()) {
      if (options.service !== undefined && e.service !== options.service) continue;
      if (options.id !== undefined && e.id !== options.id) continue;
      if (!options.all && !isAwake(e)) continue;
      out.push(snapshotOf(e));
    }
    return out.sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
  }

  /** Snapshot of one instance, or undefined when unknown. */
  get(ref: InstanceRef): InstanceSnapshot | undefined {
    const e = this.#entries.get(`${ref.service}:${ref.id}`);
    return e ? snapshotOf(e) : undefined;
  }

  /** The config this supervisor runs. */
  get config(): Config {
    return this.#d.config;
  }

  // ---- commands ------------------------------------------------------------------------------

  /**
   * Starts an instance (idempotent) and waits until it is ready or its start-up time is over.
   * Throws SpawnError when it cannot start or exits during start-up.
   */
  async spawn(
    ref: InstanceRef,
    origin: StoredInstance["origin"] = "api",
  ): Promise<InstanceSnapshot> {
    const service = this.#service(ref.service);
    const entry = this.#entryFor(ref, origin);
    entry.desired = "running";
    if (!isAwake(entry) || entry.status === "failed") await this.#startEntry(entry, true);
    await this.#awaitStartup(entry, service);
    return snapshotOf(entry);
  }

  /** Stops an instance; it stays known (woken again by a request). */
  async stop(ref: InstanceRef): Promise<InstanceSnapshot> {
    const entry = this.#entries.get(`${ref.service}:${ref.id}`);
    if (!entry) throw new NotFoundError(`Instance not found: ${ref.service}:${ref.id}`);
    await this.#stopEntry(entry, "stopped", STOPPED_BY_REQUEST);
    return snapshotOf(entry);
  }

  /** Stops and starts again; clears failed state and crash backoff. */
  async restart(ref: InstanceRef): Promise<InstanceSnapshot> {
    const service = this.#service(ref.service);
    const entry = this.#entryFor(ref, "api");
    await this.#stopEntry(entry, "stopped", undefined);
    entry.crashCount = 0;
    entry.restartTimesMs = [];
    entry.restartsTotal++;
    entry.desired = "running";
    this.#d.metrics?.restarted(entry.service, entry.id);
    await this.#startEntry(entry, true);
    await this.#awaitStartup(entry, service);
    return snapshotOf(entry);
  }

  /** Sets a traffic weight (0-100), stored durably. */
  async setWeight(ref: InstanceRef, weight: number): Promise<InstanceSnapshot> {
    const entry = this.#entries.get(`${ref.service}:${ref.id}`);
    if (!entry) throw new NotFoundError(`Instance not found: ${ref.service}:${ref.id}`);
    entry.weight = weight;
    await this.#d.repo.putWeight(ref.service, ref.id, weight);
    return snapshotOf(entry);
  }

  /** Runs one live health probe now and records its result. */
  async checkHealth(ref: InstanceRef): Promise<InstanceSnapshot> {
    const entry = this.#entries.get(`${ref.service}:${ref.id}`);
    if (!entry) throw new NotFoundError(`Instance not found: ${ref.service}:${ref.id}`);
    if (entry.port !== undefined && entry.handle && entry.status === "running") {
      const result = await this.#probe(entry, this.#service(entry.service));
      this.#applyProbe(entry, result, entry.generation);
    }
    return snapshotOf(entry);
  }

  // ---- deployments -------------------------------------------------------------------------

  /**
   * Starts (or reuses) `ref`, waits until its health check passes, then gives it `weight`. While
   * it is not healthy it gets no traffic; on failure or timeout it is stopped, the weights of the
   * other instances untouched, and a DeployError says why.
   */
  async deploy(
    ref: InstanceRef,
    options: { weight: number; timeoutMs: number },
  ): Promise<InstanceSnapshot> {
    const svc = this.#service(ref.service);
    const entry = this.#entryFor(ref, "api");
    const isHealthyNow = (): boolean =>
      entry.isReady && entry.status === "running" && entry.health === "healthy";
    if (!isHealthyNow()) {
      entry.weight = 0;
      await this.#d.repo.putWeight(ref.service, ref.id, 0);
      entry.desired = "running";
      const deadline = this.#d.clock.now() + options.timeoutMs;
      try {
        if (!entry.handle) await this.#startEntry(entry, true);
        while (!isHealthyNow()) {
          if (entry.status === "failed" || entry.status === "stopped") break;
          const left = deadline - this.#d.clock.now();
          if (left <= 0) break;
          await waitAtMost(entry.changed.promise, Math.min(left, 250));
        }
      } catch (err: unknown) {
        entry.reason ??= messageOf(err);
      }
      if (!isHealthyNow()) {
        const why = this.#deployFailure(entry, svc, options.timeoutMs);
        await this.#stopEntry(entry, "stopped", `deploy failed: ${why.summary}`);
        throw new DeployError(why.summary, why.details);
      }
    }
    return await this.setWeight(ref, options.weight);
  }

  #deployFailure(
    entry: InstanceEntry,
    svc: ServiceConfig,
    timeoutMs: number,
  ): { summary: string; details: string[] } {
    const hasExited = entry.status === "failed" || entry.status === "stopped" ||
      entry.status === "backoff";
    const summary = hasExited
      ? `Instance ${entry.key} failed to start: ${entry.reason ?? "exited"}`
      : `Instance ${entry.key} did not become healthy within ${
        Math.round(timeoutMs / 1000)
      } seconds`;
    const details = [
      `last health check: ${entry.lastProbe ?? "none yet"}${
        svc.health ? ` (GET ${svc.health})` : " (TCP connect)"
      }`,
    ];
    if (entry.stderrTail.length > 0) {
      details.push("stderr:", ...entry.stderrTail.map((l) => `  ${l}`));
    }
    return { summary, details };
  }

  /**
   * Moves all traffic of `service` from one instance to another in one atomic commit: `to` gets
   * 100, `from` 0, the others keep theirs. `to` must be healthy. In-flight requests to `from`
   * finish; with `stopOld`, `from` is stopped once they have.
   */
  async route(
    service: string,
    fromId: string,
    toId: string,
    options: { stopOld?: boolean } = {},
  ): Promise<{ from: InstanceSnapshot; to: InstanceSnapshot }> {
    const svc = this.#service(service);
    const from = this.#entries.get(`${service}:${fromId}`);
    const to = this.#entries.get(`${service}:${toId}`);
    if (!from) throw new NotFoundError(`Instance not found: ${service}:${fromId}`);
    if (!to) throw new NotFoundError(`Instance not found: ${service}:${toId}`);
    if (from === to) throw new ConflictError(`Cannot route ${service}:${fromId} to itself`);
    if (!(to.isReady && to.status === "running" && to.health === "healthy")) {
      throw new ConflictError(
        `Cannot route to ${to.key}: it is not healthy (status ${to.status}, health ${to.health}); deploy it first`,
      );
    }
    await this.#commitWeights(svc, [{ id: fromId, weight: 0 }, { id: toId, weight: 100 }]);
    if (options.stopOld) await this.#drainAndStop(from, `replaced by ${to.key}`);
    return { from: snapshotOf(from), to: snapshotOf(to) };
  }

  /**
   * Restores the weights the last route change (or rollback) of `service` replaced, starting
   * the instances that get traffic back first.
   */
  async rollback(service: string): Promise<InstanceSnapshot[]> {
    const svc = this.#service(service);
    const previous = await this.#d.repo.lastRoute(service);
    if (!previous) throw new NotFoundError(`Nothing to roll back: "${service}" was never routed`);
    for (const w of previous.weights) {
      if (w.weight <= 0) continue;
      const entry = this.#entryFor({ service, id: w.id }, "api");
      if (!(entry.isReady && entry.status === "running")) {
        entry.desired = "running";
        if (!entry.handle) await this.#startEntry(entry, true);
        await this.#awaitStartup(entry, svc);
        if (!entry.isReady) {
          throw new UnavailableError(`Cannot roll back: ${entry.key} did not become ready`);
        }
      }
    }
    await this.#commitWeights(svc, previous.weights);
    return this.list({ all: true, service });
  }

  /** Applies weights atomically: one KV commit (with the routing it replaces), then memory. */
  async #commitWeights(svc: ServiceConfig, changes: readonly WeightChange[]): Promise<void> {
    const current: WeightChange[] = [];
    for (const e of this.#entriesOfService.get(svc.name) ?? []) {
      current.push({ id: e.id, weight: e.weight });
    }
    await this.#d.repo.commitRoute(svc.name, changes, {
      atMs: this.#d.clock.now(),
      weights: current,
    });
    // No await between these assignments: the proxy never sees half a swap.
    for (const c of changes) {
      const entry = this.#entryFor({ service: svc.name, id: c.id }, "api");
      entry.weight = c.weight;
    }
  }

  async #drainAndStop(entry: InstanceEntry, reason: string): Promise<void> {
    const svc = this.#service(entry.service);
    const deadline = this.#d.clock.now() + svc.requestTimeoutMs;
    while (entry.activeRequests > 0 && this.#d.clock.now() < deadline) {
      await waitAtMost(entry.changed.promise, 20);
    }
    await this.#stopEntry(entry, "stopped", reason);
  }

  // ---- proxy ---------------------------------------------------------------------------------

  /** See TargetResolver.resolveDirect. */
  async resolveDirect(service: string, id: string, signal: AbortSignal): Promise<Target> {
    const svc = this.#serviceForHost(service);
    if (!svc) throw new NotFoundError(`Unknown service "${service}"`);
    let entry = this.#entries.get(`${svc.name}:${id}`) ?? this.#entryForHost(svc.name, id);
    if (entry && entry.isReady && entry.status === "running") return this.#target(entry, svc);
    if (!entry) {
      this.#admitCreate(svc, id);
      entry = this.#entryFor({ service: svc.name, id }, "request");
    }
    return await this.#waitReady(entry, svc, signal);
  }

  /** See TargetResolver.resolveWeighted. */
  async resolveWeighted(service: string, signal: AbortSignal, stickyId?: string): Promise<Target> {
    const svc = this.#serviceForHost(service);
    if (!svc) throw new NotFoundError(`Unknown service "${service}"`);
    const eligible: InstanceEntry[] = [];
    for (const e of this.#entriesOfService.get(svc.name) ?? []) {
      if (e.weight > 0 && e.status !== "failed") eligible.push(e);
    }
    const isUp = (e: InstanceEntry): boolean =>
      e.isReady && e.status === "running" && e.health !== "unhealthy";
    const pinned = stickyId === undefined ? undefined : eligible.find((e) => e.id === stickyId);
    const random = this.#d.clock.random();
    const up = eligible.filter(isUp);
    const chosen = pinned && (isUp(pinned) || up.length === 0)
      ? pinned
      : pickWeighted(up.map((e) => ({ item: e, weight: e.weight })), random) ??
        pickWeighted(eligible.map((e) => ({ item: e, weight: e.weight })), random);
    if (!chosen) throw new UnavailableError(`No instance of "${svc.name}" can take traffic`);
    const target = chosen.isReady && chosen.status === "running"
      ? this.#target(chosen, svc)
      : await this.#waitReady(chosen, svc, signal);
    // Pin clients while traffic is split, and re-pin a client whose pin no longer takes traffic;
    // with a single instance and no pin, no cookie is needed.
    if ((eligible.length > 1 || stickyId !== undefined) && chosen.id !== stickyId) {
      return { ...target, setCookie: stickyCookie(svc.name, chosen.id) };
    }
    return target;
  }

  /** See TargetResolver.beginRequest. */
  beginRequest(target: Target): () => void {
    const entry = this.#entryOfTarget.get(target) ??
      this.#entries.get(`${target.service}:${target.id}`);
    if (!entry) return () => {};
    entry.activeRequests++;
    entry.lastActivityMs = this.#d.clock.now();
    let isDone = false;
    return () => {
      if (isDone) return;
      isDone = true;
      entry.activeRequests--;
      entry.lastActivityMs = this.#d.clock.now();
    };
  }

  /** See TargetResolver.waitForRestart. */
  async waitForRestart(target: Target, signal: AbortSignal): Promise<Target | undefined> {
    const entry = this.#entries.get(`${target.service}:${target.id}`);
    const svc = this.#d.config.services.get(target.service);
    if (!entry || !svc) return undefined;
    if (entry.isReady && entry.status === "running" && entry.port === target.port) {
      // Still looks alive: give the exit watcher a moment to notice a fresh crash.
      await waitAtMost(entry.changed.promise, 50, { signal });
      if (entry.isReady && entry.status === "running" && entry.port === target.port) {
        return undefined;
      }
    }
    return await this.#waitReady(entry, svc, signal);
  }

  // ---- shutdown ------------------------------------------------------------------------------

  /**
   * SIGKILLs the process group of every running instance right away (the signals are sent before
   * this returns), for a daemon that must exit now. Returns how many groups were signalled.
   */
  killAllNow(): number {
    let count = 0;
    for (const entry of this.#entries.values()) {
      if (entry.handle === undefined) continue;
      entry.handle.killRemnants().catch(() => {});
      count++;
    }
    return count;
  }

  /** Stops every instance in parallel, each within its grace period; desired states are kept. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#isShuttingDown = true;
    this.#tasks.abort();
    await Promise.allSettled(
      [...this.#entries.values()].map((e) => this.#stopEntry(e, undefined, undefined)),
    );
    await this.#tasks[Symbol.asyncDispose]();
    await Promise.allSettled([...this.#entries.values()].map((e) => e.persistChain));
  }

  // ---- internals: starting ---------------------------------------------------------------------

  /** Host names are lower case; service names and ids may not be. */
  #serviceForHost(name: string): ServiceConfig | undefined {
    const exact = this.#d.config.services.get(name);
    if (exact) return exact;
    for (const svc of this.#d.config.services.values()) {
      if (svc.name.toLowerCase() === name) return svc;
    }
    return undefined;
  }

  #entryForHost(service: string, id: string): InstanceEntry | undefined {
    for (const e of this.#entriesOfService.get(service) ?? []) {
      if (e.id.toLowerCase() === id) return e;
    }
    return undefined;
  }

  #service(name: string): ServiceConfig {
    const svc = this.#d.config.services.get(name);
    if (!svc) throw new NotFoundError(`Unknown service "${name}": it is not defined in the config`);
    return svc;
  }

  #entryFor(ref: InstanceRef, origin: StoredInstance["origin"]): InstanceEntry {
    const key = `${ref.service}:${ref.id}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = newEntry(ref.service, ref.id, {
        origin,
        desired: "running",
        status: "stopped",
        // A tenant's instance created by its own Host must not serve the service's shared route.
        weight: origin === "request" ? 0 : DEFAULT_WEIGHT,
        restartsTotal: 0,
      }, this.#d.clock.now());
      this.#addEntry(entry);
    }
    return entry;
  }

  /** Applies the auto-create rules to a request for a never-seen id. */
  #admitCreate(svc: ServiceConfig, id: string): void {
    if (!svc.autoCreate) throw new NotFoundError(`Instance not found: ${svc.name}:${id}`);
    if (svc.autoCreateAllow.length > 0 && !svc.autoCreateAllow.includes(id)) {
      throw new NotFoundError(`Instance not found: ${svc.name}:${id}`);
    }
    let created = 0;
    for (const e of this.#entriesOfService.get(svc.name) ?? []) {
      if (e.origin === "request") created++;
    }
    if (created >= svc.autoCreateLimit) {
      log.warn(
        "Refused to create {key} on request: {count} instances of {service} were already created this way (auto_create_limit)",
        { key: `${svc.name}:${id}`, count: created, service: svc.name },
      );
      throw new ForbiddenError(`Instance not found: ${svc.name}:${id}`);
    }
    const now = this.#d.clock.now();
    const recent = (this.#createdAtMs.get(svc.name) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= svc.autoCreatePerMinute) {
      log.warn("Refused to create {key} on request: auto_create_per_minute reached", {
        key: `${svc.name}:${id}`,
      });
      throw new UnavailableError("Too many new instances, retry later", 60);
    }
    recent.push(now);
    this.#createdAtMs.set(svc.name, recent);
  }

  /** Launches the entry's process unless it is already starting or running. */
  async #startEntry(entry: InstanceEntry, isUserRequest = false): Promise<void> {
    using _lock = await this.#locks.acquire(entry.key);
    if (this.#isShuttingDown) throw new UnavailableError("tenement is shutting down");
    if (entry.handle) return;
    if (isUserRequest) {
      this.#clearRetry(entry);
      if (entry.status === "failed") {
        entry.crashCount = 0;
        entry.restartTimesMs = [];
      }
    }
    await this.#launch(entry);
  }

  async #launch(entry: InstanceEntry): Promise<void> {
    const svc = this.#service(entry.service);
    const { settings } = this.#d.config;
    // Starts are CPU bound: the slot is held until the instance is ready or its start-up time ends.
    const slot = await this.#starts.acquire();
    let port: number;
    try {
      port = await this.#d.ports.allocate();
    } catch (err: unknown) {
      slot[Symbol.dispose]();
      throw err;
    }
    const plan = planInstance({
      service: svc,
      id: entry.id,
      dataDir: settings.dataDir,
      port,
      baseEnv: this.#d.baseEnv,
    });
    const generation = ++entry.generation;
    const launchedAtMs = this.#d.clock.now();
    try {
      const files = this.#d.files;
      await Promise.all([
        files.ensureDir(plan.instanceDir),
        files.ensureDir(dirname(plan.socketPath)).then(() => files.removeFile(plan.socketPath)),
      ]);
      entry.handle = await this.#d.launcher.launch({
        argv: plan.argv,
        env: plan.env,
        cwd: plan.cwd,
        isolation: svc.isolation,
        onLine: (stream, line) => {
          if (stream === "stderr" && line.trim() !== "") {
            entry.lastStderr = line;
            entry.stderrTail.push(line);
            if (entry.stderrTail.length > STDERR_TAIL_LINES) entry.stderrTail.shift();
          }
          this.#d.logs.append(entry.service, entry.id, stream, line);
        },
      });
    } catch (err: unknown) {
      slot[Symbol.dispose]();
      this.#d.ports.release(port);
      const reason = messageOf(err);
      this.#d.logs.append(entry.service, entry.id, "stderr", `tenement: ${reason}`);
      this.#onRunEnded(entry, generation, undefined, reason);
      throw err instanceof TenementError ? err : new SpawnError(reason, { cause: err });
    }
    const now = this.#d.clock.now();
    Object.assign(
      entry,
      {
        port,
        socketPath: plan.socketPath,
        status: "starting",
        health: "unknown",
        isReady: false,
        startedAtMs: launchedAtMs,
        readyAtMs: undefined,
        lastActivityMs: now,
        healthFailures: 0,
        reason: undefined,
        retryAtMs: undefined,
        lastStderr: "",
        stderrTail: [],
      } satisfies Partial<InstanceEntry>,
    );
    const controller = new AbortController();
    entry.runController = controller;
    entry.desired = "running";
    this.#persist(entry);
    this.#notify(entry);
    log.info("Started {key} (pid {pid}) on port {port}", {
      key: entry.key,
      pid: entry.handle.pid,
      port,
    });
    const handle = entry.handle;
    this.#tasks.run(`exit:${entry.key}#${generation}`, async () => {
      const exit = await handle.exited;
      this.#onRunEnded(entry, generation, exit, undefined);
    });
    this.#tasks.run(`run:${entry.key}#${generation}`, (groupSignal) =>
      this.#watchRun(
        entry,
        svc,
        generation,
        AbortSignal.any([groupSignal, controller.signal]),
        slot,
      ));
  }

  /** Readiness, then periodic health checks, for one run of an instance. */
  async #watchRun(
    entry: InstanceEntry,
    svc: ServiceConfig,
    generation: number,
    signal: AbortSignal,
    startSlot: Disposable,
  ): Promise<void> {
    {
      using _slot = startSlot;
      const result = await waitUntilReady(() => this.#probe(entry, svc), {
        timeoutMs: svc.startupTimeoutMs,
        signal,
        onProbe: (probe) => {
          if (entry.generation === generation) entry.lastProbe = probe.detail;
        },
      });
      if (entry.generation !== generation) return;
      entry.lastProbe = result.lastDetail;
      if (result.isReady) {
        this.#markReady(entry);
      } else {
        log.warn("{key} is not ready after {ms} ms: {detail}", {
          key: entry.key,
          ms: svc.startupTimeoutMs,
          detail: result.lastDetail,
        });
        entry.health = "unhealthy";
        this.#notify(entry);
      }
    }
    const intervalMs = this.#d.config.settings.healthCheckIntervalMs;
    while (!signal.aborted && entry.generation === generation) {
      await delay(intervalMs, { signal });
      const result = await this.#probe(entry, svc);
      if (signal.aborted) return;
      this.#applyProbe(entry, result, generation);
    }
  }

  #markReady(entry: InstanceEntry): void {
    const now = this.#d.clock.now();
    entry.isReady = true;
    entry.status = "running";
    entry.health = "healthy";
    entry.healthFailures = 0;
    entry.readyAtMs = now;
    if (entry.startedAtMs !== undefined) {
      this.#d.metrics?.woke(entry.service, entry.id, now - entry.startedAtMs);
    }
    this.#notify(entry);
  }

  #applyProbe(entry: InstanceEntry, result: ProbeResult, generation: number): void {
    if (entry.generation !== generation || !entry.handle) return;
    entry.lastProbe = result.detail;
    if (result.isPass && !entry.isReady) this.#markReady(entry);
    const verdict = judgeHealth(entry.healthFailures, result.isPass);
    entry.health = verdict.health;
    entry.healthFailures = verdict.consecutiveFailures;
    const now = this.#d.clock.now();
    if (
      result.isPass && entry.readyAtMs !== undefined &&
      now - entry.readyAtMs >= this.#d.config.settings.backoffResetMs
    ) {
      entry.crashCount = 0;
    }
    if (verdict.shouldRestart) {
      const reason =
        `health check failed ${verdict.consecutiveFailures} times in a row (${result.detail})`;
      log.warn("Restarting {key}: {reason}", { key: entry.key, reason });
      this.#d.logs.append(entry.service, entry.id, "stderr", `tenement: restarting, ${reason}`);
      this.#tasks.run(
        `unhealthy:${entry.key}`,
        () => this.#restartUnhealthy(entry, generation, reason),
      );
    }
  }

  async #restartUnhealthy(entry: InstanceEntry, generation: number, reason: string): Promise<void> {
    const handle = entry.handle;
    if (entry.generation !== generation || !handle) return;
    const svc = this.#service(entry.service);
    using _lock = await this.#locks.acquire(entry.key);
    if (entry.generation !== generation || entry.handle !== handle) return;
    entry.runController?.abort();
    entry.status = "stopping";
    entry.generation++;
    this.#notify(entry);
    const exit = await handle.stop(svc.stopGracePeriodMs);
    this.#afterProcessGone(entry);
    this.#decide(entry, exit, reason);
  }

  /** Called when a run ends on its own (exit) or could not start (reason). */
  #onRunEnded(
    entry: InstanceEntry,
    generation: number,
    exit: ExitInfo | undefined,
    startError: string | undefined,
  ): void {
    if (entry.generation !== generation) return;
    if (exit) {
      const handle = entry.handle;
      entry.generation++;
      entry.runController?.abort();
      this.#afterProcessGone(entry);
      const message = `Process exited unexpectedly (pid ${handle?.pid}): ${
        describeExit(exit, entry.lastStderr)
      }`;
      this.#d.logs.append(entry.service, entry.id, "stderr", message);
      log.warn("{key}: {message}", { key: entry.key, message });
      if (handle) this.#tasks.run(`reap:${entry.key}`, () => handle.killRemnants());
    }
    if (this.#isShuttingDown) return;
    this.#decide(entry, exit ?? { code: null, signal: null }, startError);
  }

  #afterProcessGone(entry: InstanceEntry): void {
    if (entry.port !== undefined) {
      this.#d.ports.release(entry.port);
      this.#d.onStopped?.(entry.port);
    }
    entry.handle = undefined;
    entry.isReady = false;
    entry.port = undefined;
  }

  /** Applies the restart policy after an unplanned end of a run. */
  #decide(entry: InstanceEntry, exit: ExitInfo, reasonOverride: string | undefined): void {
    const svc = this.#service(entry.service);
    const { settings } = this.#d.config;
    entry.crashCount++;
    const isStartFailure = reasonOverride !== undefined && exit.code === null &&
      exit.signal === null;
    const decision = decideAfterExit(
      isStartFailure ? { code: 1, signal: null } : exit,
      entry.lastStderr,
      {
        crashCount: entry.crashCount,
        restartTimesMs: entry.restartTimesMs,
        nowMs: this.#d.clock.now(),
        random: this.#d.clock.random(),
      },
      {
        restart: reasonOverride !== undefined && !isStartFailure ? "always" : svc.restart,
        maxRestarts: settings.maxRestarts,
        restartWindowMs: settings.restartWindowMs,
        backoff: { baseMs: settings.backoffBaseMs, maxMs: settings.backoffMaxMs, jitter: 0.2 },
      },
    );
    entry.health = "unknown";
    if (decision.kind === "stay_stopped") {
      entry.status = "stopped";
      entry.desired = "stopped";
      entry.reason = reasonOverride ?? decision.reason;
    } else {
      entry.restartTimesMs = decision.restartTimesMs;
      const delayMs = decision.kind === "failed" ? decision.retryDelayMs : decision.delayMs;
      entry.status = decision.kind === "failed" ? "failed" : "backoff";
      entry.reason = decision.kind === "failed"
        ? `${reasonOverride ?? describeExit(exit, entry.lastStderr)}; ${
          decision.reason.split("; ").pop()
        }`
        : (reasonOverride ?? describeExit(exit, entry.lastStderr));
      this.#scheduleRetry(entry, delayMs);
    }
    this.#persist(entry);
    this.#notify(entry);
  }

  #scheduleRetry(entry: InstanceEntry, delayMs: number): void {
    this.#clearRetry(entry);
    entry.retryAtMs = this.#d.clock.now() + delayMs;
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      entry.retryAtMs = undefined;
      if (this.#isShuttingDown) return;
      this.#tasks.run(`retry:${entry.key}`, async () => {
        using _lock = await this.#locks.acquire(entry.key);
        if (entry.handle || (entry.status !== "backoff" && entry.status !== "failed")) return;
        entry.restartsTotal++;
        this.#d.metrics?.restarted(entry.service, entry.id);
        try {
          await this.#launch(entry);
        } catch (err: unknown) {
          log.warn("Restart of {key} failed: {err}", { key: entry.key, err: messageOf(err) });
        }
      });
    }, delayMs);
  }

  #clearRetry(entry: InstanceEntry): void {
    if (entry.retryTimer !== undefined) clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
    entry.retryAtMs = undefined;
  }

  // ---- internals: stopping -------------------------------------------------------------------

  /**
   * Stops the entry's process (SIGTERM, grace, SIGKILL). `next` is the resting status; undefined
   * keeps the desired state (daemon shutdown).
   */
  async #stopEntry(
    entry: InstanceEntry,
    next: "asleep" | "stopped" | undefined,
    reason: string | undefined,
    onlyIf?: () => boolean,
  ): Promise<void> {
    using _lock = await this.#locks.acquire(entry.key);
    if (onlyIf && !onlyIf()) return;
    this.#clearRetry(entry);
    const handle = entry.handle;
    const svc = this.#service(entry.service);
    if (handle) {
      entry.runController?.abort();
      entry.generation++;
      entry.status = "stopping";
      this.#notify(entry);
      await handle.stop(svc.stopGracePeriodMs);
      this.#afterProcessGone(entry);
      log.info("Stopped {key}{why}", { key: entry.key, why: reason ? `: ${reason}` : "" });
    }
    // Only an explicit stop discards data: sleeping and shutdown keep it for the next wake.
    if (next === "stopped" && reason === STOPPED_BY_REQUEST && !svc.storagePersist) {
      await this.#d.files.removeDir(`${this.#d.config.settings.dataDir}/${svc.name}/${entry.id}`);
    }
    entry.health = "unknown";
    if (next !== undefined) {
      entry.status = next;
      entry.desired = next;
      entry.reason = reason;
      entry.crashCount = 0;
    } else if (handle || entry.status === "backoff") {
      entry.status = "stopped";
    }
    this.#persist(entry);
    this.#notify(entry);
  }

  async #idleSweep(signal: AbortSignal): Promise<void> {
    const everyMs = this.#d.idleSweepMs ?? 1000;
    while (!signal.aborted) {
      await delay(everyMs, { signal });
      const now = this.#d.clock.now();
      for (const entry of this.#entries.values()) {
        if (entry.status !== "running" || !entry.isReady) continue;
        const svc = this.#d.config.services.get(entry.service);
        if (!svc || !this.#isIdleNow(entry, svc, now)) continue;
        this.#tasks.run(`sleep:${entry.key}`, async () => {
          if (this.#locks.isBusy(entry.key)) return;
          const isStillIdle = (): boolean =>
            entry.status === "running" && this.#isIdleNow(entry, svc, this.#d.clock.now());
          await this.#stopEntry(
            entry,
            "asleep",
            `idle for ${Math.round(svc.idleTimeoutMs / 1000)}s`,
            isStillIdle,
          );
        });
      }
    }
  }

  #isIdleNow(entry: InstanceEntry, svc: ServiceConfig, nowMs: number): boolean {
    return isIdle({
      lastActivityMs: entry.lastActivityMs,
      nowMs,
      idleTimeoutMs: svc.idleTimeoutMs,
      activeRequests: entry.activeRequests + entry.waitingRequests,
    });
  }

  // ---- internals: waking -----------------------------------------------------------------------

  /** Waits until the entry is ready, waking it if it sleeps, within the service's start-up time. */
  async #waitReady(entry: InstanceEntry, svc: ServiceConfig, signal: AbortSignal): Promise<Target> {
    if (entry.waitingRequests >= svc.maxQueuedRequests) {
      throw new UnavailableError(`Too many requests waiting for ${entry.key}`, 1);
    }
    entry.waitingRequests++;
    const deadline = this.#d.clock.now() + svc.startupTimeoutMs;
    let hasWoken = false;
    try {
      while (true) {
        if (entry.isReady && entry.status === "running") return this.#target(entry, svc);
        if (entry.status === "failed") {
          throw new UnavailableError(
            `${entry.key} has failed: ${entry.reason}`,
            retryAfter(entry, this.#d.clock.now()),
          );
        }
        if (entry.status === "backoff" && (entry.retryAtMs ?? 0) > deadline) {
          throw new UnavailableError(
            `${entry.key} is restarting`,
            retryAfter(entry, this.#d.clock.now()),
          );
        }
        if (entry.status === "asleep" || entry.status === "stopped") {
          // One wake per request: an instance that stops again on its own (restart = "never",
          // a clean exit under "on-failure") is not started in a loop by the same request.
          if (hasWoken && entry.reason !== undefined) {
            throw new UnavailableError(`${entry.key} stopped during start-up: ${entry.reason}`);
          }
          hasWoken = true;
          this.#wake(entry);
        }
        const left = deadline - this.#d.clock.now();
        if (left <= 0) {
          throw new UnavailableError(
            `${entry.key} did not become ready within ${svc.startupTimeoutMs / 1000}s (${
              entry.lastProbe ?? entry.reason ?? "no probe yet"
            })`,
          );
        }
        await waitAtMost(entry.changed.promise, Math.min(left, 250), { signal });
        signal.throwIfAborted();
      }
    } finally {
      entry.waitingRequests--;
    }
  }

  #wake(entry: InstanceEntry): void {
    const startedAt = this.#d.clock.now();
    void this.#wakes.run(entry.key, async () => {
      try {
        if (entry.status === "stopped" || entry.status === "asleep") {
          entry.desired = "running";
          await this.#startEntry(entry);
          log.info("Woke {key} in {ms} ms (process started)", {
            key: entry.key,
            ms: this.#d.clock.now() - startedAt,
          });
        }
      } catch (err: unknown) {
        log.warn("Cannot wake {key}: {err}", { key: entry.key, err: messageOf(err) });
      }
    });
  }

  async #awaitStartup(entry: InstanceEntry, svc: ServiceConfig): Promise<void> {
    const deadline = this.#d.clock.now() + svc.startupTimeoutMs;
    while (!entry.isReady) {
      if (entry.status === "backoff" || entry.status === "failed" || entry.status === "stopped") {
        throw new SpawnError(`${entry.key} exited during start-up: ${entry.reason ?? "unknown"}`);
      }
      const left = deadline - this.#d.clock.now();
      if (left <= 0) return;
      await waitAtMost(entry.changed.promise, Math.min(left, 250));
    }
  }

  #addEntry(entry: InstanceEntry): void {
    this.#entries.set(entry.key, entry);
    const list = this.#entriesOfService.get(entry.service);
    if (list === undefined) this.#entriesOfService.set(entry.service, [entry]);
    else list.push(entry);
  }

  /** The entry's target, made once per run (the proxy asks for it on every request). */
  #target(entry: InstanceEntry, svc: ServiceConfig): Target {
    const cached = entry.target;
    if (
      cached !== undefined && cached.port === entry.port &&
      cached.socketPath === entry.socketPath && cached.requestTimeoutMs === svc.requestTimeoutMs
    ) {
      return cached;
    }
    const target: Target = {
      service: entry.service,
      id: entry.id,
      port: entry.port!,
      socketPath: entry.socketPath,
      requestTimeoutMs: svc.requestTimeoutMs,
    };
    entry.target = target;
    this.#entryOfTarget.set(target, entry);
    return target;
  }

  #probe(entry: InstanceEntry, svc: ServiceConfig): Promise<ProbeResult> {
    const port = entry.port;
    if (port === undefined) return Promise.resolve({ isPass: false, detail: "not running" });
    return svc.health !== undefined
      ? this.#d.prober.http(port, svc.health, PROBE_TIMEOUT_MS)
      : this.#d.prober.tcp(port, PROBE_TIMEOUT_MS);
  }

  #notify(entry: InstanceEntry): void {
    const previous = entry.changed;
    entry.changed = Promise.withResolvers<void>();
    previous.resolve();
  }

  #persist(entry: InstanceEntry): void {
    const handle = entry.handle;
    const record: StoredInstance = {
      service: entry.service,
      id: entry.id,
      desired: entry.desired,
      origin: entry.origin,
      restartsTotal: entry.restartsTotal,
      process: handle
        ? {
          pid: handle.pid,
          startTicks: handle.startTicks,
          bootId: this.#d.reaper.bootId(),
          port: entry.port,
        }
        : undefined,
    };
    entry.persistChain = entry.persistChain
      .then(() => this.#d.repo.putInstance(record))
      .catch((err: unknown) => {
        log.error("Cannot store state of {key}: {err}", { key: entry.key, err: messageOf(err) });
      });
  }
}

function isAwake(e: InstanceEntry): boolean {
  return e.status === "starting" || e.status === "running" || e.status === "stopping" ||
    e.handle !== undefined;
}

function retryAfter(e: InstanceEntry, nowMs: number): number {
  return e.retryAtMs === undefined ? 5 : Math.max(1, Math.ceil((e.retryAtMs - nowMs) / 1000));
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
