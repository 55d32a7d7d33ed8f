/**
 * Target resolution for the proxy: the instance a request goes to (direct by Host, or weighted
 * over a service), waking it when it sleeps and waiting until it is ready, the auto-create gate
 * for never-seen ids, and request counting for the idle sweep. Wakes make room under `max_awake`
 * (`awake_limit.ts`) and, like creations, are limited per client address (`client_gates.ts`).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServiceConfig } from "../config/schema.ts";
import { type AutoCreateHistory, judgeAutoCreate } from "../core/auto_create.ts";
import {
  ForbiddenError,
  InstanceDisabledError,
  messageOf,
  NotFoundError,
  UnavailableError,
} from "../core/errors.ts";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import { reasonOf, retryAtOf } from "../core/lifecycle.ts";
import { stickyCookie } from "../core/sticky.ts";
import { pickWeighted } from "../core/weights.ts";
import type { Target, TargetResolver } from "../proxy/target.ts";
import type { AwakeLimit } from "./awake_limit.ts";
import { ClientGates } from "./client_gates.ts";
import { waitAtMost } from "./delay.ts";
import { type InstanceEntry, notifyChanged } from "./instance_entry.ts";
import { type InstanceTable, serviceForHost } from "./instance_table.ts";
import type { LiveConfig } from "./live_config.ts";
import type { Clock } from "./ports.ts";
import type { Runner } from "./runner.ts";
import { SingleFlight } from "./single_flight.ts";

/** How long a refused or dropped connection waits for the exit of a process that looks alive. */
const EXIT_NOTICE_MS = 1_000;

const log = getLogger(["tenement", "supervisor"]);

/** Longest pause between two looks at a waiting instance (changes usually end it sooner). */
const WAIT_STEP_MS = 250;

/** Finds, wakes and waits for the instances requests go to. */
export class TargetResolution implements TargetResolver {
  readonly #live: LiveConfig;
  readonly #clock: Clock;
  readonly #table: InstanceTable;
  readonly #runner: Runner;
  readonly #awake: AwakeLimit;
  /** Per wake: undefined once it is over, or why it found no room under max_awake. */
  readonly #wakes = new SingleFlight<UnavailableError | undefined>();
  readonly #clientGates: ClientGates;
  /** The entry each target handed to the proxy belongs to (no key string per request). */
  readonly #entryOfTarget = new WeakMap<Target, InstanceEntry>();
  /** Per service: when its recent request-created instances were created. */
  readonly #createdAtMs = new Map<string, number[]>();

  constructor(
    live: LiveConfig,
    clock: Clock,
    table: InstanceTable,
    runner: Runner,
    awake: AwakeLimit,
  ) {
    this.#live = live;
    this.#clock = clock;
    this.#table = table;
    this.#runner = runner;
    this.#awake = awake;
    this.#clientGates = new ClientGates(() => live.current.settings, () => clock.now());
  }

  /** See TargetResolver.resolveDirect. */
  async resolveDirect(
    service: string,
    id: string,
    signal: AbortSignal,
    clientIp?: string,
  ): Promise<Target> {
    const requestedAtMs = this.#clock.now();
    const svc = serviceForHost(this.#live.current, service);
    if (!svc) return this.#retiredTarget(service, id);
    let entry = this.#table.forHost(svc.name, id);
    if (entry?.isDisabled === true) throw new InstanceDisabledError(entry.key);
    if (entry && entry.state.kind === "ready") return this.#target(entry, svc);
    if (!entry) {
      this.#admitCreate(svc, id, "host", clientIp);
      entry = this.#table.entryFor({ service: svc.name, id }, "request", this.#clock.now());
      // Its creation was counted against the client already; its first wake is part of it.
      return await this.#waitReady(entry, svc, signal, requestedAtMs, undefined);
    }
    return await this.#waitReady(entry, svc, signal, requestedAtMs, clientIp);
  }

  /**
   * A running instance of a service a reload removed keeps serving until it is stopped; nothing
   * of such a service is started or created.
   */
  #retiredTarget(service: string, id: string | undefined): Target {
    const ready = this.#retiredReady(service)
      .filter((e) => id === undefined ? e.weight > 0 : true)
      .filter((e) => id === undefined || e.id.toLowerCase() === id.toLowerCase());
    const chosen = pickWeighted(
      ready.map((e) => ({ item: e, weight: id === undefined ? e.weight : 1 })),
      this.#clock.random(),
    );
    if (!chosen) throw new NotFoundError(`Unknown service "${service}"`);
    return this.#target(chosen, chosen.definition!);
  }

  /** The ready instances of a service that is no longer in the config. */
  #retiredReady(service: string): InstanceEntry[] {
    const out: InstanceEntry[] = [];
    for (const e of this.#table.values()) {
      if (e.service.toLowerCase() !== service.toLowerCase()) continue;
      if (e.state.kind === "ready" && e.definition !== undefined) out.push(e);
    }
    return out;
  }

  /** See TargetResolver.resolveWeighted. */
  async resolveWeighted(
    service: string,
    signal: AbortSignal,
    stickyId?: string,
    clientIp?: string,
  ): Promise<Target> {
    const requestedAtMs = this.#clock.now();
    const svc = serviceForHost(this.#live.current, service);
    if (!svc) return this.#retiredTarget(service, undefined);
    // A per-tenant service keeps tenants apart: only `{id}.{service}.{domain}` reaches them.
    if (!svc.sharedRoute) {
      throw new NotFoundError(`"${svc.name}" has no shared route: use {id}.${svc.name}.{domain}`);
    }
    const eligible: InstanceEntry[] = [];
    for (const e of this.#table.ofService(svc.name)) {
      if (e.weight > 0 && e.state.kind !== "failed" && !e.isDisabled) eligible.push(e);
    }
    const isUp = (e: InstanceEntry): boolean =>
      e.state.kind === "ready" && e.state.health !== "unhealthy";
    const pinned = stickyId === undefined ? undefined : eligible.find((e) => e.id === stickyId);
    const random = this.#clock.random();
    const up = eligible.filter(isUp);
    const chosen = pinned && (isUp(pinned) || up.length === 0)
      ? pinned
      : pickWeighted(up.map((e) => ({ item: e, weight: e.weight })), random) ??
        pickWeighted(eligible.map((e) => ({ item: e, weight: e.weight })), random);
    if (!chosen) throw new UnavailableError(`No instance of "${svc.name}" can take traffic`);
    const target = chosen.state.kind === "ready"
      ? this.#target(chosen, svc)
      : await this.#waitReady(chosen, svc, signal, requestedAtMs, clientIp);
    // Pin clients while traffic is split, and re-pin a client whose pin no longer takes traffic;
    // with a single instance and no pin, no cookie is needed.
    if ((eligible.length > 1 || stickyId !== undefined) && chosen.id !== stickyId) {
      return { ...target, setCookie: stickyCookie(svc.name, chosen.id) };
    }
    return target;
  }

  /**
   * Whether a certificate may be obtained for a host name's route: a configured service
   * (`{service}.{domain}`), or one of its instances that the supervisor already knows (in any
   * state), or an id the service's `auto_create_allow` list names while `auto_create` is on.
   * A random new id is refused even when an open `auto_create` would let a request create it:
   * names anyone can make up must not place certificate orders. Creates nothing and spends no
   * `auto_create` budget.
   */
  mayObtainCertificate(service: string, id: string | undefined): boolean {
    const svc = serviceForHost(this.#live.current, service);
    if (!svc) return false;
    if (id === undefined) return svc.sharedRoute;
    if (this.#table.forHost(svc.name, id)) return true;
    const wanted = id.toLowerCase();
    return svc.autoCreate &&
      svc.autoCreateAllow.some((allowed) => allowed.toLowerCase() === wanted);
  }

  /** See TargetResolver.beginRequest. */
  beginRequest(target: Target): () => void {
    const entry = this.#entryOfTarget.get(target) ?? this.#table.get(target);
    if (!entry) return () => {};
    entry.activeRequests++;
    entry.lastActivityMs = this.#clock.now();
    let isDone = false;
    return () => {
      if (isDone) return;
      isDone = true;
      entry.activeRequests--;
      entry.lastActivityMs = this.#clock.now();
    };
  }

  /** See TargetResolver.waitForRestart. */
  async waitForRestart(target: Target, signal: AbortSignal): Promise<Target | undefined> {
    const entry = this.#table.get(target);
    const svc = this.#live.service(target.service);
    if (!entry || !svc) return undefined;
    const isSameRun = (): boolean => entry.state.kind === "ready" && entry.port === target.port;
    // Still looks alive: give the exit watcher time to notice a fresh crash (a loaded machine
    // reports a killed child late). An app that is alive but refuses connections is answered
    // with 502 once this runs out.
    const deadline = this.#clock.now() + EXIT_NOTICE_MS;
    while (isSameRun()) {
      const left = deadline - this.#clock.now();
      if (left <= 0) return undefined;
      await waitAtMost(entry.changed.promise, left, { signal, clock: this.#clock });
      signal.throwIfAborted();
    }
    // A restart after a crash is not the client's wake: no client rate applies.
    return await this.#waitReady(entry, svc, signal, this.#clock.now(), undefined);
  }

  /**
   * Waits until the entry is ready, waking it if it sleeps, within the service's start-up time;
   * `requestedAtMs` is when the request arrived, for the wake report. A wake this request
   * starts counts against `clientIp`'s wake rate (none when undefined).
   */
  async #waitReady(
    entry: InstanceEntry,
    svc: ServiceConfig,
    signal: AbortSignal,
    requestedAtMs: number,
    clientIp: string | undefined,
  ): Promise<Target> {
    if (entry.waitingRequests >= svc.maxQueuedRequests) {
      throw new UnavailableError(`Too many requests waiting for ${entry.key}`, 1);
    }
    entry.waitingRequests++;
    const clock = this.#clock;
    const deadline = clock.now() + svc.startupTimeoutMs;
    let hasWoken = false;
    /** The wake this request started or joined, while it is under way. */
    let wake: Promise<UnavailableError | undefined> | undefined;
    let noRoom: UnavailableError | undefined;
    try {
      while (true) {
        // Forgotten (`ten rm`) while this request waited: it no longer exists.
        if (entry.isForgotten) throw new NotFoundError(`Instance not found: ${entry.key}`);
        if (entry.isDisabled) throw new InstanceDisabledError(entry.key);
        const state = entry.state;
        if (state.kind === "ready") return this.#target(entry, svc);
        if (state.kind === "failed") {
          throw new UnavailableError(
            `${entry.key} has failed: ${state.reason}`,
            retryAfterSeconds(retryAtOf(state), clock.now()),
          );
        }
        if (state.kind === "backoff" && (state.retryAtMs ?? 0) > deadline) {
          throw new UnavailableError(
            `${entry.key} is restarting`,
            retryAfterSeconds(state.retryAtMs, clock.now()),
          );
        }
        if (noRoom !== undefined) throw noRoom;
        if ((state.kind === "asleep" || state.kind === "stopped") && wake === undefined) {
          // One wake per request: an instance that stops again on its own (restart = "never",
          // a clean exit under "on-failure") is not started in a loop by the same request.
          if (hasWoken && state.reason !== undefined) {
            throw new UnavailableError(`${entry.key} stopped during start-up: ${state.reason}`);
          }
          if (!hasWoken && clientIp !== undefined && !this.#wakes.has(entry.key)) {
            this.#clientGates.admitWake(entry.key, clientIp);
          }
          hasWoken = true;
          const started = this.#wake(entry, svc, requestedAtMs, deadline);
          wake = started;
          started.then((found) => {
            noRoom = found;
            if (wake === started) wake = undefined;
          });
        }
        const left = deadline - clock.now();
        if (left <= 0) {
          // Still waiting for room under max_awake: say so, not that it did not start.
          throw (wake === undefined ? undefined : this.#awake.noRoomFor(entry, svc)) ??
            timedOut(entry, svc);
        }
        await waitAtMost(
          wake === undefined ? entry.changed.promise : Promise.race([entry.changed.promise, wake]),
          Math.min(left, WAIT_STEP_MS),
          { signal, clock },
        );
        signal.throwIfAborted();
      }
    } finally {
      entry.waitingRequests--;
    }
  }

  /**
   * Starts a sleeping or stopped entry once, however many requests ask at the same time, after
   * making room for it under `max_awake` (by `deadlineMs`). Resolves when the launch is over,
   * with the error to answer when no room was found. The runner logs the wake once the instance
   * is ready, timed from `requestedAtMs`.
   */
  #wake(
    entry: InstanceEntry,
    svc: ServiceConfig,
    requestedAtMs: number,
    deadlineMs: number,
  ): Promise<UnavailableError | undefined> {
    return this.#wakes.run(entry.key, async () => {
      let room: Disposable | undefined;
      try {
        room = await this.#awake.makeRoom(entry, svc, { deadlineMs });
        const kind = entry.state.kind;
        if (kind === "stopped" || kind === "asleep") {
          entry.desired = "running";
          entry.wakeRequestedAtMs = requestedAtMs;
          await this.#runner.start(entry);
        }
        return undefined;
      } catch (err: unknown) {
        if (room === undefined && err instanceof UnavailableError) {
          log.warn("{err}", { err: err.message });
          notifyChanged(entry);
          return err;
        }
        log.warn("Cannot wake {key}: {err}", { key: entry.key, err: messageOf(err) });
        return undefined;
      } finally {
        room?.[Symbol.dispose]();
        // Taken by the launch; left only when nothing was launched.
        entry.wakeRequestedAtMs = undefined;
      }
    });
  }

  /** What the auto-create gate has seen of a service so far. */
  #createHistory(svc: ServiceConfig): AutoCreateHistory {
    let createdCount = 0;
    for (const e of this.#table.ofService(svc.name)) {
      if (e.origin === "request") createdCount++;
    }
    return {
      createdCount,
      createdAtMs: this.#createdAtMs.get(svc.name) ?? [],
      nowMs: this.#clock.now(),
    };
  }

  /**
   * Applies the auto-create rules to an instance a tenant token asks to start
   * (`POST /api/instances/spawn`, restart): a known instance passes, a new one is created only
   * as a request for its Host could create it, and counts as such. Throws ForbiddenError (or
   * UnavailableError for the per-minute limit) when refused.
   */
  admitTenantCreate(ref: InstanceRef): void {
    const svc = this.#live.service(ref.service);
    if (!svc || this.#table.get(ref)) return;
    this.#admitCreate(svc, ref.id, "token");
  }

  /**
   * Applies the auto-create rules to a never-seen id, asked for by a request's Host or by a
   * tenant token; throws when refused.
   */
  #admitCreate(
    svc: ServiceConfig,
    id: string,
    via: "host" | "token" = "host",
    clientIp?: string,
  ): void {
    const key = formatInstanceKey({ service: svc.name, id });
    const verdict = judgeAutoCreate(svc, id, this.#createHistory(svc));
    if (via === "token" && verdict.kind !== "allowed" && verdict.kind !== "rate_limited") {
      throw new ForbiddenError(
        verdict.kind === "limit_reached"
          ? `Cannot create ${key}: auto_create_limit (${svc.autoCreateLimit}) of "${svc.name}" reached`
          : `Cannot create ${key}: "${svc.name}" does not let tenants create it (auto_create${
            svc.autoCreate ? "_allow" : " is off"
          })`,
      );
    }
    switch (verdict.kind) {
      case "allowed":
        if (clientIp !== undefined) this.#clientGates.admitCreate(key, clientIp);
        this.#createdAtMs.set(svc.name, verdict.createdAtMs);
        return;
      case "not_allowed":
        throw new NotFoundError(`Instance not found: ${key}`);
      case "limit_reached":
        log.warn(
          "Refused to create {key} on request: {count} instances of {service} were already created this way (auto_create_limit)",
          { key, count: verdict.createdCount, service: svc.name },
        );
        throw new ForbiddenError(`Instance not found: ${key}`);
      case "rate_limited":
        log.warn("Refused to create {key} on request: auto_create_per_minute reached", { key });
        throw new UnavailableError("Too many new instances, retry later", 60);
    }
  }

  /**
   * The entry's target, made once per run (the proxy asks for it on every request). Handing it
   * out counts as activity: the idle sweep must not stop the process between this and the
   * proxy's `beginRequest`.
   */
  #target(entry: InstanceEntry, svc: ServiceConfig): Target {
    entry.lastActivityMs = this.#clock.now();
    const cached = entry.target;
    // The socket only when the app listens on it: most apps listen on PORT alone.
    const socketPath = entry.isSocketListening ? entry.socketPath : undefined;
    if (
      cached !== undefined && cached.port === entry.port &&
      cached.socketPath === socketPath && cached.requestTimeoutMs === svc.requestTimeoutMs
    ) {
      return cached;
    }
    const target: Target = {
      service: entry.service,
      id: entry.id,
      port: entry.port!,
      socketPath,
      requestTimeoutMs: svc.requestTimeoutMs,
    };
    entry.target = target;
    this.#entryOfTarget.set(target, entry);
    return target;
  }
}

/** The 503 of a request whose instance was not ready within the service's start-up time. */
function timedOut(entry: InstanceEntry, svc: ServiceConfig): UnavailableError {
  return new UnavailableError(
    `${entry.key} did not become ready within ${svc.startupTimeoutMs / 1000}s (${
      entry.lastProbe ?? reasonOf(entry.state) ?? "no probe yet"
    })`,
  );
}

/** Seconds until a retry, for Retry-After (5 when none is scheduled). */
function retryAfterSeconds(retryAtMs: number | undefined, nowMs: number): number {
  return retryAtMs === undefined ? 5 : Math.max(1, Math.ceil((retryAtMs - nowMs) / 1000));
}
