/**
 * Deployments: traffic weights, deploying an instance behind a health gate, moving a service's
 * traffic from one instance to another in one atomic commit (draining the old one), and rolling
 * that move back.
 * @module
 */
import type { ServiceConfig } from "../config/schema.ts";
import {
  ConflictError,
  DeployError,
  messageOf,
  NotFoundError,
  UnavailableError,
} from "../core/errors.ts";
import { deployWeight } from "../core/deploy_weight.ts";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import { hasEnded, healthOf, isReady, reasonOf, statusOf } from "../core/lifecycle.ts";
import { waitAtMost } from "./delay.ts";
import { type InstanceEntry, type InstanceSnapshot, snapshotOf } from "./instance_entry.ts";
import { type InstanceTable, serviceNamed } from "./instance_table.ts";
import type { LiveConfig } from "./live_config.ts";
import type { Clock, StateRepo, WeightChange } from "./ports.ts";
import type { Runner } from "./runner.ts";
import { stderrDetails } from "./startup_wait.ts";
import { refuseIfDisabled } from "./instance_disable.ts";

/** Longest pause between two looks at a deploying instance. */
const DEPLOY_STEP_MS = 250;
/** Pause between two looks at a draining instance. */
const DRAIN_STEP_MS = 20;

/** Options of a deploy. */
export interface DeployOptions {
  /** The weight once healthy; undefined applies `deployWeight()`'s blue-green default. */
  readonly weight: number | undefined;
  /** How long to wait for a passing health check. */
  readonly timeoutMs: number;
}

/** What deployments need. */
export interface DeploymentDeps {
  /** The config in force (replaced by reloads). */
  readonly live: LiveConfig;
  readonly clock: Clock;
  readonly repo: StateRepo;
  readonly table: InstanceTable;
  readonly runner: Runner;
}

/** Weights, deploy, route and rollback. */
export class Deployments {
  readonly #deps: DeploymentDeps;

  constructor(deps: DeploymentDeps) {
    this.#deps = deps;
  }

  /** Sets a traffic weight (0-100), stored durably. */
  async setWeight(ref: InstanceRef, weight: number): Promise<InstanceSnapshot> {
    const entry = this.#deps.table.require(ref);
    const previous = entry.weight;
    entry.weight = weight;
    await this.#deps.repo.putWeight(ref.service, ref.id, weight);
    if (previous !== weight) this.#deps.runner.event(entry, `weight ${previous} -> ${weight}`);
    return snapshotOf(entry);
  }

  /**
   * Starts (or reuses) `ref`, waits until its health check passes, then gives it its weight (see
   * `deployWeight()`: `options.weight` when given, else blue-green). While it is not healthy it
   * gets no traffic; on failure or timeout it is stopped, the weights of the other instances
   * untouched, and a DeployError says why.
   */
  async deploy(ref: InstanceRef, options: DeployOptions): Promise<InstanceSnapshot> {
    const { live, clock, repo, table, runner } = this.#deps;
    const svc = serviceNamed(live.current, ref.service);
    refuseIfDisabled(table.get(ref));
    const current = table.get(ref)?.weight;
    const entry = table.entryFor(ref, "api", clock.now());
    const isHealthyNow = (): boolean =>
      entry.state.kind === "ready" && entry.state.health === "healthy";
    if (!isHealthyNow()) {
      entry.weight = 0;
      await repo.putWeight(ref.service, ref.id, 0);
      entry.desired = "running";
      const deadline = clock.now() + options.timeoutMs;
      let startError: string | undefined;
      try {
        if (!entry.handle) await runner.start(entry, true);
        while (!isHealthyNow()) {
          const kind = entry.state.kind;
          if (kind === "failed" || kind === "stopped") break;
          const left = deadline - clock.now();
          if (left <= 0) break;
          await waitAtMost(entry.changed.promise, Math.min(left, DEPLOY_STEP_MS), { clock });
        }
      } catch (err: unknown) {
        startError = messageOf(err);
      }
      if (!isHealthyNow()) {
        const why = deployFailure(entry, svc, options.timeoutMs, startError);
        await runner.stop(entry, "stopped", `deploy failed: ${why.summary}`);
        throw new DeployError(why.summary, why.details);
      }
    }
    const others = table.ofService(ref.service).filter((e) => e !== entry).map((e) => e.weight);
    runner.event(entry, "deployed: healthy");
    return await this.setWeight(
      ref,
      deployWeight({ requested: options.weight, current, others }),
    );
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
    const { live, table } = this.#deps;
    const svc = serviceNamed(live.current, service);
    const from = table.require({ service, id: fromId });
    const to = table.require({ service, id: toId });
    if (from === to) {
      throw new ConflictError(
        `Cannot route ${formatInstanceKey({ service, id: fromId })} to itself`,
      );
    }
    if (!(to.state.kind === "ready" && to.state.health === "healthy")) {
      throw new ConflictError(
        `Cannot route to ${to.key}: it is not healthy (status ${statusOf(to.state)}, health ${
          healthOf(to.state)
        }); deploy it first`,
      );
    }
    await this.#commitWeights(svc, [{ id: fromId, weight: 0 }, { id: toId, weight: 100 }]);
    this.#deps.runner.event(from, `routed: traffic moved to ${to.key}`);
    this.#deps.runner.event(to, `routed: traffic moved from ${from.key}`);
    if (options.stopOld) await this.#drainAndStop(from, `replaced by ${to.key}`);
    return { from: snapshotOf(from), to: snapshotOf(to) };
  }

  /**
   * Restores the weights the last route change (or rollback) of `service` replaced, starting
   * the instances that get traffic back first.
   */
  async rollback(service: string): Promise<InstanceSnapshot[]> {
    const { live, clock, repo, table, runner } = this.#deps;
    const svc = serviceNamed(live.current, service);
    const previous = await repo.lastRoute(service);
    if (!previous) throw new NotFoundError(`Nothing to roll back: "${service}" was never routed`);
    for (const w of previous.weights) {
      if (w.weight <= 0) continue;
      const entry = table.entryFor({ service, id: w.id }, "api", clock.now());
      if (entry.state.kind !== "ready") {
        entry.desired = "running";
        if (!entry.handle) await runner.start(entry, true);
        await runner.awaitStartup(entry, svc);
        if (!isReady(entry.state)) {
          throw new UnavailableError(`Cannot roll back: ${entry.key} did not become ready`);
        }
      }
    }
    await this.#commitWeights(svc, previous.weights);
    return table.snapshots({ all: true, service });
  }

  /** Applies weights atomically: one KV commit (with the routing it replaces), then memory. */
  async #commitWeights(svc: ServiceConfig, changes: readonly WeightChange[]): Promise<void> {
    const { clock, repo, table } = this.#deps;
    const current: WeightChange[] = [];
    for (const e of table.ofService(svc.name)) current.push({ id: e.id, weight: e.weight });
    await repo.commitRoute(svc.name, changes, { atMs: clock.now(), weights: current });
    // No await between these assignments: the proxy never sees half a swap.
    for (const c of changes) {
      table.entryFor({ service: svc.name, id: c.id }, "api", clock.now()).weight = c.weight;
    }
  }

  async #drainAndStop(entry: InstanceEntry, reason: string): Promise<void> {
    const { clock, runner } = this.#deps;
    const deadline = clock.now() + (runner.serviceOf(entry)?.requestTimeoutMs ?? 0);
    while (entry.activeRequests > 0 && clock.now() < deadline) {
      await waitAtMost(entry.changed.promise, DRAIN_STEP_MS, { clock });
    }
    await runner.stop(entry, "stopped", reason);
  }
}

/** The summary and details of a failed deploy. */
function deployFailure(
  entry: InstanceEntry,
  svc: ServiceConfig,
  timeoutMs: number,
  startError: string | undefined,
): { summary: string; details: string[] } {
  const summary = hasEnded(entry.state)
    ? `Instance ${entry.key} failed to start: ${reasonOf(entry.state) ?? startError ?? "exited"}`
    : `Instance ${entry.key} did not become healthy within ${Math.round(timeoutMs / 1000)} seconds`;
  const details = [
    `last health check: ${entry.lastProbe ?? "none yet"}${
      svc.health ? ` (GET ${svc.health})` : " (TCP connect)"
    }`,
    ...stderrDetails(entry.stderrTail),
  ];
  return { summary, details };
}
