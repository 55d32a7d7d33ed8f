/**
 * The interfaces the supervisor needs from the outside world. Edges (runtime, store, logs,
 * metrics) satisfy them structurally; tests may pass real edges or small fakes of these shapes.
 * @module
 */
import type {
  Config,
  Isolation,
  Mount,
  Network,
  ServiceConfig,
  Settings,
} from "../config/schema.ts";
import type { ExitInfo } from "../core/lifecycle.ts";

/** Everything needed to start one instance's process. */
export interface LaunchSpec {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly isolation: Isolation;
  /** Called with each complete output line (without its newline). */
  readonly onLine: (stream: "stdout" | "stderr", line: string) => void;
  /** The instance's data dir `{data_dir}/{service}/{id}` (its only writable path in a sandbox). */
  readonly instanceDir?: string;
  /** The instance's Unix socket path (its directory is bound into a sandbox). */
  readonly socketPath?: string;
  /** Run as this uid and gid instead of the daemon's user (`user = "auto"` or a user name). */
  readonly user?: LaunchUser;
  /**
   * `cgroup.procs` files the process joins before the app's first instruction (one for v2, one
   * per controller for v1); empty or undefined: no cgroup.
   */
  readonly cgroupProcs?: readonly string[];
  /** The daemon's `data_dir`: hidden inside a namespace or sandbox but for the instance's dir. */
  readonly dataDir?: string;
  /** Sandbox network: `"none"` leaves the app reachable through its Unix socket only. */
  readonly network?: Network;
  /** Extra binds into a sandbox (the service's `mounts`). */
  readonly mounts?: readonly Mount[];
}

/** The user an instance runs as (the runtime's `WrapUser`). */
export interface LaunchUser {
  readonly uid: number;
  readonly gid: number;
}

/** A running process group. */
export interface ProcessHandle {
  readonly pid: number;
  /** Kernel start time of the process (clock ticks since boot), to guard against pid reuse. */
  readonly startTicks: number | undefined;
  /** Resolves when the group leader exits. */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM to the group, `graceMs`, then SIGKILL; resolves when no process of the group is left. */
  stop(graceMs: number): Promise<ExitInfo>;
  /** SIGKILL whatever is left of the group (after the leader exited on its own). */
  killRemnants(): Promise<void>;
}

/** Starts processes. */
export interface ProcessLauncher {
  launch(spec: LaunchSpec): Promise<ProcessHandle>;
}

/** A probe's outcome. */
export interface ProbeResult {
  readonly isPass: boolean;
  /** Short human description: `HTTP 503`, `connection refused`, `timed out after 5000 ms`. */
  readonly detail: string;
  /** True when the connect was refused: nothing listens on the port. */
  readonly isRefused?: boolean;
}

/** Checks whether an instance answers. */
export interface Prober {
  /**
   * HTTP GET of `path` on 127.0.0.1:port (over the Unix socket `socketPath` instead when given);
   * passes only on a 2xx status.
   */
  http(port: number, path: string, timeoutMs: number, socketPath?: string): Promise<ProbeResult>;
  /** Connect to 127.0.0.1:port (to the Unix socket `socketPath` instead when given). */
  tcp(port: number, timeoutMs: number, socketPath?: string): Promise<ProbeResult>;
}

/** Hands out instance ports that are free at the time of allocation. */
export interface PortAllocator {
  allocate(): Promise<number>;
  release(port: number): void;
}

/** What is stored about an instance between runs of the daemon. */
export interface StoredInstance {
  readonly service: string;
  readonly id: string;
  /** What the instance should be doing after a daemon restart. */
  readonly desired: "running" | "asleep" | "stopped";
  /** How it came to exist. */
  readonly origin: "config" | "api" | "request";
  readonly restartsTotal: number;
  /** Disabled by the operator (`ten disable`): stopped, and nothing starts it until enabled. */
  readonly isDisabled?: boolean;
  /** The process group the last run of the daemon left, for orphan clean-up. */
  readonly process: StoredProcess | undefined;
}

/** Identity of a process group, precise enough to never kill a stranger after pid reuse. */
export interface StoredProcess {
  readonly pid: number;
  readonly startTicks: number | undefined;
  readonly bootId: string | undefined;
  readonly port: number | undefined;
}

/** Durable state of instances and weights. */
export interface StateRepo {
  listInstances(): Promise<StoredInstance[]>;
  putInstance(instance: StoredInstance): Promise<void>;
  listWeights(): Promise<Array<{ service: string; id: string; weight: number }>>;
  putWeight(service: string, id: string, weight: number): Promise<void>;
  /**
   * Writes several weights of one service and the routing they replace (for rollback) in one
   * atomic commit: either all change or none.
   */
  commitRoute(
    service: string,
    weights: readonly WeightChange[],
    previous: RouteSnapshot,
  ): Promise<void>;
  /** The routing the last route change of a service replaced, if any. */
  lastRoute(service: string): Promise<RouteSnapshot | undefined>;
  /** Deletes everything stored about an instance (its record and weight) in one commit. */
  forgetInstance(service: string, id: string): Promise<void>;
}

/** One weight to write. */
export interface WeightChange {
  readonly id: string;
  readonly weight: number;
}

/** Weights of a service's instances at one moment. */
export interface RouteSnapshot {
  readonly atMs: number;
  readonly weights: readonly WeightChange[];
}

/** Receives captured output lines. */
export interface LogSink {
  /** `event`: a lifecycle fact from tenement itself ("tenement: ready in 40 ms"). */
  append(service: string, id: string, stream: "stdout" | "stderr" | "event", line: string): void;
}

/** Receives lifecycle facts for metrics. */
export interface SupervisorMetrics {
  restarted(service: string, id: string): void;
  /** A request woke the instance: the whole wait and each of its steps, in ms. */
  woke(service: string, id: string, wake: WakeTimes): void;
  /** The idle sweep put the instance to sleep. */
  idleStopped?(service: string, id: string): void;
  /** An instance of `service` was put to sleep to make room under `max_awake`. */
  evicted?(service: string): void;
  /** The kernel's OOM killer ended a run at the instance's memory limit. */
  oomKilled?(service: string, id: string): void;
  /** The instance was forgotten: its series go. */
  forgotten?(service: string, id: string): void;
}

/** A wake, from the waking request's arrival to the instance being ready, in ms. */
export interface WakeTimes {
  readonly totalMs: number;
  /** queued (lock and start slot), spawned, listening (port accepts), healthy (check passes). */
  readonly phasesMs: {
    readonly queued: number;
    readonly spawned: number;
    readonly listening: number;
    readonly healthy: number;
  };
}

/** Puts instances with limits (`memory_limit_mb`, `cpu_shares`, `pids_limit`) in cgroups. */
export interface CgroupPort {
  /**
   * Creates the instance's cgroup with its service's limits, before its process starts; undefined
   * when the service sets no limit. Throws SpawnError naming the path and the fix when there is no
   * usable cgroup: limits are never silently dropped.
   */
  create(service: ServiceConfig, id: string): Promise<InstanceCgroup | undefined>;
  /**
   * Removes the cgroups a previous daemon run left (called after orphans were reaped): empty ones,
   * and those of `known` instances after killing what is still in them.
   */
  removeLeftovers(known: readonly { service: string; id: string }[]): Promise<void>;
}

/** One instance's cgroup, for one run. */
export interface InstanceCgroup {
  /** The `cgroup.procs` files the process joins (see `LaunchSpec.cgroupProcs`). */
  readonly procsFiles: readonly string[];
  /** The memory limit in force, if any. */
  readonly memoryLimitMb: number | undefined;
  /** How many processes the OOM killer killed in the cgroup. */
  oomKills(): Promise<number>;
  /**
   * Once no live process of group `pgid` is left (waiting at most `timeoutMs`), SIGKILLs what is
   * still in the cgroup: children that left the group (setsid), which would otherwise live on and
   * keep the run's output pipes open.
   */
  killEscapees(pgid: number, timeoutMs: number): Promise<void>;
  /** Kills whatever is still in the cgroup, then removes it. */
  destroy(): Promise<void>;
}

/**
 * Time, timers and randomness: everything in the supervisor that depends on the wall clock goes
 * through this, so a fake clock (`testing/fake_clock.ts`) drives it in tests.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1). */
  random(): number;
  /** Calls `fn` once after `ms`; disposing the returned handle cancels it. */
  setTimer(fn: () => void, ms: number): Disposable;
}

/** File-system actions the supervisor needs around a start and an explicit stop. */
export interface InstanceFiles {
  ensureDir(path: string): Promise<void>;
  /** `rm -rf` that never follows a symlink: a link is removed, not what it points to. */
  removeDir(path: string): Promise<void>;
  removeFile(path: string): Promise<void>;
  /** True when something (a directory, a file, a link) is at `path`. */
  exists(path: string): Promise<boolean>;
}

/** One start's inputs for {@linkcode InstanceUsers.prepare}. */
export interface UserRequest {
  readonly service: ServiceConfig;
  readonly id: string;
  readonly settings: Pick<Settings, "dataDir" | "autoUserRange">;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly instanceDir: string;
  /** The socket's own dir (default socket template), given to the user; else undefined. */
  readonly socketDir: string | undefined;
}

/** Decides who each instance runs as (`user`), and gives it its dirs. */
export interface InstanceUsers {
  /**
   * The user the instance runs as (undefined: the daemon's own), with its data dir and socket
   * dir owned by it and its program and working dir checked reachable; SpawnError otherwise.
   */
  prepare(req: UserRequest): Promise<LaunchUser | undefined>;
  /** Frees what `user = "auto"` gave the instance (`ten rm --purge`). */
  release(service: string, id: string): Promise<void>;
  /** Ends what is left under the instance's own uid (`user = "auto"`) once it is stopped. */
  endProcesses?(service: string, id: string): Promise<void>;
  /**
   * Whether the proxy may connect to the Unix socket of a run under `user`: false when the
   * instance could swap it for a link to a socket of the daemon's (checked once it listens).
   */
  trustSocket?(run: {
    readonly socketPath: string;
    readonly socketDir: string | undefined;
    readonly user: LaunchUser;
  }): Promise<boolean>;
  /**
   * Why 127.0.0.1:`port` is not the run's own: a listener on it belongs to another uid (another
   * tenant or process took the port first). Undefined when every listener is `user`'s.
   */
  checkPort?(
    run: { readonly port: number; readonly user: LaunchUser },
  ): Promise<string | undefined>;
}

/** Everything the supervisor is built from. */
export interface SupervisorDeps {
  readonly config: Config;
  readonly launcher: ProcessLauncher;
  readonly prober: Prober;
  /** Instance ports (the port range); not to be confused with this file's interfaces. */
  readonly portPool: PortAllocator;
  readonly repo: StateRepo;
  readonly logs: LogSink;
  readonly clock: Clock;
  readonly reaper: OrphanReaper;
  readonly files: InstanceFiles;
  /** Environment inherited by every instance. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Who instances run as; undefined: always the daemon's user, dirs as `files` makes them. */
  readonly users?: InstanceUsers;
  readonly metrics?: SupervisorMetrics;
  /** cgroups for instances with limits; without it, limits are not applied. */
  readonly cgroups?: CgroupPort;
  /** Called when an instance's port goes away, so pooled upstream connections are closed. */
  readonly onStopped?: (port: number) => void;
  /** How often idle instances are looked for. @default {1000} */
  readonly idleSweepMs?: number;
  /** Cores, for the default start concurrency. @default {2} */
  readonly cpuCount?: number;
}

/** Kills process groups left by a previous daemon run. */
export interface OrphanReaper {
  reap(process: StoredProcess): Promise<boolean>;
  /** An id for the current boot, stored with each process so stale records are recognised. */
  bootId(): string | undefined;
}
