/**
 * The supervisor: sole owner of the instance table. It starts, stops, wakes, restarts and
 * health-checks instances, serialising operations per instance and running different instances in
 * parallel. This file is the façade that wires the concepts together: the table
 * (`instance_table.ts`), the runner (`runner.ts`, with `restart_policy.ts` and `health_loop.ts`),
 * target resolution for the proxy (`target_resolution.ts`), the idle sweep (`idle_sweep.ts`) and
 * deployments (`deployments.ts`). Decisions come from the pure `core/lifecycle.ts`; I/O goes
 * through `ports.ts`.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/schema.ts";
import type { ReloadReport } from "../config/reload_report.ts";
import { messageOf } from "../core/errors.ts";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import { isAwake, isStartingUp } from "../core/lifecycle.ts";
import type { Target, TargetResolver } from "../proxy/target.ts";
import { AwakeLimit } from "./awake_limit.ts";
import { Deployments, type DeployOptions } from "./deployments.ts";
import { runIdleSweep } from "./idle_sweep.ts";
import { reloadConfig } from "./config_reload.ts";
import {
  type ForgetDeps,
  forgetInstance,
  type ForgetOptions,
  type ForgetResult,
} from "./instance_forget.ts";
import {
  disableInstance,
  type DisableResult,
  enableInstance,
  refuseIfDisabled,
} from "./instance_disable.ts";
import { type InstanceSnapshot, newEntry, snapshotOf } from "./instance_entry.ts";
import { defaultWeight, InstanceTable, type ListOptions, serviceNamed } from "./instance_table.ts";
import { LiveConfig } from "./live_config.ts";
import type { StoredInstance, SupervisorDeps } from "./ports.ts";
import { Runner, STOPPED_BY_REQUEST } from "./runner.ts";
import { TargetResolution } from "./target_resolution.ts";

export type { ListOptions } from "./instance_table.ts";
export type { ForgetOptions, ForgetResult } from "./instance_forget.ts";
export type { DisableResult } from "./instance_disable.ts";

/** An instance after a spawn or restart: a warning when it listens but its check failed. */
export interface SpawnedInstance extends InstanceSnapshot {
  readonly warning: string | undefined;
}

const log = getLogger(["tenement", "supervisor"]);

/** The instance supervisor. */
export class Supervisor implements TargetResolver, AsyncDisposable {
  readonly #deps: SupervisorDeps;
  readonly #live: LiveConfig;
  readonly #table = new InstanceTable();
  readonly #runner: Runner;
  readonly #targets: TargetResolution;
  readonly #awake: AwakeLimit;
  readonly #deployments: Deployments;

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
    this.#live = new LiveConfig(deps.config);
    this.#runner = new Runner(deps, this.#live);
    this.#awake = new AwakeLimit({
      live: this.#live,
      clock: deps.clock,
      table: this.#table,
      runner: this.#runner,
      metrics: deps.metrics,
    });
    this.#targets = new TargetResolution(
      this.#live,
      deps.clock,
      this.#table,
      this.#runner,
      this.#awake,
    );
    this.#deployments = new Deployments({
      live: this.#live,
      clock: deps.clock,
      repo: deps.repo,
      table: this.#table,
      runner: this.#runner,
    });
  }

  /** Kills leftovers of a previous run, restores the table, and starts what should run. */
  async start(): Promise<void> {
    const { repo, reaper, clock } = this.#deps;
    const config = this.#live.current;
    const weights = new Map(
      (await repo.listWeights()).map((w) => [formatInstanceKey(w), w.weight] as const),
    );
    const storedInstances = await repo.listInstances();
    for (const stored of storedInstances) {
      if (stored.process) await reaper.reap(stored.process);
      const key = formatInstanceKey(stored);
      if (!config.services.has(stored.service)) {
        log.warn("Ignoring stored instance {key}: service is no longer in the config", { key });
        continue;
      }
      const rest = stored.desired === "running" ? "stopped" : stored.desired;
      const entry = newEntry(stored.service, stored.id, {
        origin: stored.origin,
        desired: stored.desired,
        state: { kind: rest, reason: undefined },
        weight: weights.get(key) ?? defaultWeight(stored.origin),
        restartsTotal: stored.restartsTotal,
      }, clock.now());
      entry.hasBeenReady = true;
      entry.isDisabled = stored.isDisabled === true;
      this.#table.add(entry);
      if (stored.process) this.#runner.persist(entry);
    }
    // After the reaper: what is left in a cgroup of ours escaped its process group.
    await this.#deps.cgroups?.removeLeftovers(storedInstances);
    for (const [service, ids] of config.instances) {
      for (const id of ids) {
        if (this.#table.get({ service, id })) continue;
        const entry = this.#table.entryFor({ service, id }, "config", clock.now());
        entry.weight = weights.get(formatInstanceKey({ service, id })) ?? defaultWeight("config");
      }
    }
    const runner = this.#runner;
    for (const entry of this.#table.values()) {
      if (entry.isDisabled && config.instances.get(entry.service)?.includes(entry.id)) {
        log.info("Not starting {key} from [instances]: it is disabled (ten enable {key})", {
          key: entry.key,
        });
      }
      if (entry.desired !== "running" || entry.isDisabled) continue;
      runner.apply(entry, { kind: "queued" });
      runner.tasks.run(`start:${entry.key}`, async () => {
        try {
          await runner.start(entry);
        } catch (err: unknown) {
          log.error("Cannot start {key}: {err}", { key: entry.key, err: messageOf(err) });
        }
      });
    }
    const idle = {
      clock,
      table: this.#table,
      runner,
      everyMs: this.#deps.idleSweepMs ?? 1000,
      forget: this.#forgetDeps(),
    };
    runner.tasks.run("idle-sweep", (signal) => runIdleSweep(idle, signal));
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Snapshots of instances, ordered by service then id. */
  list(options: ListOptions = {}): InstanceSnapshot[] {
    return this.#table.snapshots(options);
  }

  /** Snapshot of one instance, or undefined when unknown. */
  get(ref: InstanceRef): InstanceSnapshot | undefined {
    const entry = this.#table.get(ref);
    return entry ? snapshotOf(entry) : undefined;
  }

  /** The config this supervisor runs (the last one a reload put in force). */
  get config(): Config {
    return this.#live.current;
  }

  // ---- commands ------------------------------------------------------------------------------

  /**
   * Starts an instance (idempotent) and waits until it is ready or its start-up time is over.
   * With origin "request" (a tenant token) an unknown instance is created only as a request for
   * its Host could create it (`auto_create`, its allow list and limits), with weight 0. An
   * app that listens but fails its health check is returned with a warning. Throws SpawnError
   * when it cannot start, exits during start-up or never listens; it is then stopped (desired
   * stopped), not restarted. Under `max_awake` it first makes room as a wake does (stopping the
   * least recently used idle instance), and throws UnavailableError when there is none.
   */
  async spawn(
    ref: InstanceRef,
    origin: StoredInstance["origin"] = "api",
  ): Promise<SpawnedInstance> {
    const service = serviceNamed(this.#live.current, ref.service);
    refuseIfDisabled(this.#table.get(ref));
    if (origin === "request") this.#targets.admitTenantCreate(ref);
    const entry = this.#table.entryFor(ref, origin, this.#deps.clock.now());
    if (!isAwake(entry.state) || entry.state.kind === "failed") {
      using _room = await this.#awake.makeRoom(entry, service, {
        deadlineMs: this.#deps.clock.now() + service.startupTimeoutMs,
      });
      entry.desired = "running";
      await this.#runner.start(entry, true);
    } else if (entry.handle && isStartingUp(entry.state)) {
      // A start-up already under way (a wake) becomes this spawn's: it fails the same way.
      entry.isExplicitStart = true;
    }
    const warning = await this.#runner.awaitStartup(entry, service);
    return { ...snapshotOf(entry), warning };
  }

  /** Stops an instance; it stays known (woken again by a request). */
  async stop(ref: InstanceRef): Promise<InstanceSnapshot> {
    const entry = this.#table.require(ref);
    await this.#runner.stop(entry, "stopped", STOPPED_BY_REQUEST);
    return snapshotOf(entry);
  }

  /**
   * Stops and starts again; clears failed state and crash backoff. An unknown instance is
   * created with `origin` ("request": under the service's auto-create rules, see spawn).
   */
  async restart(
    ref: InstanceRef,
    origin: StoredInstance["origin"] = "api",
  ): Promise<SpawnedInstance> {
    const service = serviceNamed(this.#live.current, ref.service);
    refuseIfDisabled(this.#table.get(ref));
    if (origin === "request") this.#targets.admitTenantCreate(ref);
    const entry = this.#table.entryFor(ref, origin, this.#deps.clock.now());
    await this.#runner.stop(entry, "stopped", undefined);
    this.#runner.forgetCrashes(entry);
    entry.restartsTotal++;
    entry.desired = "running";
    this.#deps.metrics?.restarted(entry.service, entry.id);
    await this.#runner.start(entry, true);
    const warning = await this.#runner.awaitStartup(entry, service);
    return { ...snapshotOf(entry), warning };
  }

  /** Sets a traffic weight (0-100), stored durably. */
  setWeight(ref: InstanceRef, weight: number): Promise<InstanceSnapshot> {
    return this.#deployments.setWeight(ref, weight);
  }

  /** Runs one live health probe now and records its result. */
  async checkHealth(ref: InstanceRef): Promise<InstanceSnapshot> {
    const entry = this.#table.require(ref);
    await this.#runner.probeNow(entry);
    return snapshotOf(entry);
  }

  /** See {@linkcode reloadConfig}. */
  reload(next: Config): ReloadReport {
    return reloadConfig({ live: this.#live, table: this.#table, runner: this.#runner }, next);
  }

  /** See {@linkcode forgetInstance}. */
  forget(ref: InstanceRef, options: ForgetOptions): Promise<ForgetResult> {
    return forgetInstance(this.#forgetDeps(), ref, options);
  }

  #forgetDeps(): ForgetDeps {
    const { files, repo, users } = this.#deps;
    return { live: this.#live, table: this.#table, runner: this.#runner, files, repo, users };
  }

  /** See {@linkcode disableInstance}. */
  disable(ref: InstanceRef): Promise<DisableResult> {
    return disableInstance({ table: this.#table, runner: this.#runner }, ref);
  }

  /** See {@linkcode enableInstance}. */
  enable(ref: InstanceRef): Promise<DisableResult> {
    return enableInstance({ table: this.#table, runner: this.#runner }, ref);
  }

  // ---- deployments -------------------------------------------------------------------------

  /** See Deployments.deploy. */
  deploy(ref: InstanceRef, options: DeployOptions): Promise<InstanceSnapshot> {
    return this.#deployments.deploy(ref, options);
  }

  /** See Deployments.route. */
  route(
    service: string,
    fromId: string,
    toId: string,
    options: { stopOld?: boolean } = {},
  ): Promise<{ from: InstanceSnapshot; to: InstanceSnapshot }> {
    return this.#deployments.route(service, fromId, toId, options);
  }

  /** See Deployments.rollback. */
  rollback(service: string): Promise<InstanceSnapshot[]> {
    return this.#deployments.rollback(service);
  }

  // ---- proxy ---------------------------------------------------------------------------------

  /** See TargetResolution.mayObtainCertificate: may this name's route get a certificate? */
  mayObtainCertificate(service: string, id: string | undefined): boolean {
    return this.#targets.mayObtainCertificate(service, id);
  }

  /** See TargetResolver.resolveDirect. */
  resolveDirect(
    service: string,
    id: string,
    signal: AbortSignal,
    clientIp?: string,
  ): Promise<Target> {
    return this.#targets.resolveDirect(service, id, signal, clientIp);
  }

  /** See TargetResolver.resolveWeighted. */
  resolveWeighted(
    service: string,
    signal: AbortSignal,
    stickyId?: string,
    clientIp?: string,
  ): Promise<Target> {
    return this.#targets.resolveWeighted(service, signal, stickyId, clientIp);
  }

  /** See TargetResolver.beginRequest. */
  beginRequest(target: Target): () => void {
    return this.#targets.beginRequest(target);
  }

  /** See TargetResolver.waitForRestart. */
  waitForRestart(target: Target, signal: AbortSignal): Promise<Target | undefined> {
    return this.#targets.waitForRestart(target, signal);
  }

  // ---- shutdown ------------------------------------------------------------------------------

  /**
   * SIGKILLs the process group of every running instance right away (the signals are sent before
   * this returns), for a daemon that must exit now. Returns how many groups were signalled.
   */
  killAllNow(): number {
    let count = 0;
    for (const entry of this.#table.values()) {
      if (entry.handle === undefined) continue;
      entry.handle.killRemnants().catch(() => {});
      count++;
    }
    return count;
  }

  /** Stops every instance in parallel, each within its grace period; desired states are kept. */
  async [Symbol.asyncDispose](): Promise<void> {
    const entries = [...this.#table.values()];
    this.#runner.beginShutdown();
    await Promise.allSettled(entries.map((e) => this.#runner.stop(e, undefined, undefined)));
    await this.#runner.tasks[Symbol.asyncDispose]();
    await Promise.allSettled(entries.map((e) => e.persistChain));
  }
}
