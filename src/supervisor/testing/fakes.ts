/**
 * In-memory stand-ins for every port of the supervisor, and `startTestSupervisor()` that builds a
 * Supervisor from a TOML text on them with a fake clock: unit tests drive processes, probes and
 * time by hand and spawn nothing.
 * @module
 */
import { parseConfig } from "../../config/parse_config.ts";
import type { ServiceConfig } from "../../config/schema.ts";
import { formatInstanceKey } from "../../core/instance_key.ts";
import type { ExitInfo } from "../../core/lifecycle.ts";
import { PortPool } from "../port_pool.ts";
import type {
  CgroupPort,
  InstanceCgroup,
  InstanceFiles,
  LaunchSpec,
  LogSink,
  OrphanReaper,
  Prober,
  ProbeResult,
  ProcessHandle,
  ProcessLauncher,
  RouteSnapshot,
  StateRepo,
  StoredInstance,
  StoredProcess,
  SupervisorMetrics,
  WeightChange,
} from "../ports.ts";
import { Supervisor } from "../supervisor.ts";
import { FakeClock } from "./fake_clock.ts";

/** A process that lives until the test ends it (`exit`) or the supervisor stops it. */
export class FakeProcess implements ProcessHandle {
  readonly pid: number;
  readonly startTicks = 1;
  readonly spec: LaunchSpec;
  readonly #exited = Promise.withResolvers<ExitInfo>();
  #isAlive = true;
  /** How many times the supervisor asked it to stop. */
  stopCalls = 0;

  constructor(pid: number, spec: LaunchSpec) {
    this.pid = pid;
    this.spec = spec;
  }

  /** The port it was given (`PORT`). */
  get port(): number {
    return Number(this.spec.env["PORT"]);
  }

  /** True until it exits or is stopped. */
  get isAlive(): boolean {
    return this.#isAlive;
  }

  get exited(): Promise<ExitInfo> {
    return this.#exited.promise;
  }

  /** Ends the process on its own (a crash or a clean exit). */
  exit(info: ExitInfo = { code: 1, signal: null }): void {
    this.#isAlive = false;
    this.#exited.resolve(info);
  }

  stop(_graceMs: number): Promise<ExitInfo> {
    this.stopCalls++;
    this.exit({ code: null, signal: "SIGTERM" });
    return this.#exited.promise;
  }

  killRemnants(): Promise<void> {
    return Promise.resolve();
  }
}

/** Launches fake processes; a test can hold launches to see what happens meanwhile. */
export class FakeLauncher implements ProcessLauncher {
  readonly processes: FakeProcess[] = [];
  #nextPid = 1000;
  #gate: Promise<void> | undefined;
  #failures: string[] = [];

  /** Makes launches wait until the returned function is called. */
  hold(): () => void {
    const gate = Promise.withResolvers<void>();
    this.#gate = gate.promise;
    return () => {
      this.#gate = undefined;
      gate.resolve();
    };
  }

  /** Makes the next launch throw `message`. */
  failNext(message: string): void {
    this.#failures.push(message);
  }

  async launch(spec: LaunchSpec): Promise<ProcessHandle> {
    if (this.#gate) await this.#gate;
    const failure = this.#failures.shift();
    if (failure !== undefined) throw new Error(failure);
    const process = new FakeProcess(this.#nextPid++, spec);
    this.processes.push(process);
    return process;
  }

  /** The most recent process of the instance with id `id` (the config's command is `app {id}`). */
  last(id: string): FakeProcess {
    const found = this.processes.findLast((p) => p.spec.argv.at(-1) === id);
    if (!found) throw new Error(`No process was launched for "${id}"`);
    return found;
  }

  /** How many processes were launched for id `id`. */
  count(id: string): number {
    return this.processes.filter((p) => p.spec.argv.at(-1) === id).length;
  }

  /** The live process on `port`, if any. */
  onPort(port: number): FakeProcess | undefined {
    return this.processes.find((p) => p.isAlive && p.port === port);
  }
}

/**
 * Answers probes from test-set predicates; by default a live process listens and passes. A
 * process that does not listen (or none on the port) is refused; one that listens but is not
 * healthy fails with `HTTP 503` (or a timed-out connect without a health path).
 */
export class FakeProber implements Prober {
  readonly #launcher: FakeLauncher;
  /** Decides whether a live process listens on its port; the default listens. */
  listens: (process: FakeProcess) => boolean = () => true;
  /** Decides a probe of a live, listening process; the default passes. */
  isHealthy: (process: FakeProcess) => boolean = () => true;
  probes = 0;

  constructor(launcher: FakeLauncher) {
    this.#launcher = launcher;
  }

  http(port: number, _path: string, _timeoutMs: number): Promise<ProbeResult> {
    return Promise.resolve(this.#probe(port, "HTTP 200", "HTTP 503"));
  }

  tcp(port: number, _timeoutMs: number): Promise<ProbeResult> {
    return Promise.resolve(this.#probe(port, "connected", "timed out after 5000 ms"));
  }

  #probe(port: number, pass: string, fail: string): ProbeResult {
    this.probes++;
    const process = this.#launcher.onPort(port);
    if (!process || !this.listens(process)) {
      return { isPass: false, detail: "connection refused", isRefused: true };
    }
    if (this.isHealthy(process)) return { isPass: true, detail: pass };
    return { isPass: false, detail: fail };
  }
}

/** The durable state in memory. */
export class MemoryStateRepo implements StateRepo {
  readonly instances = new Map<string, StoredInstance>();
  /** Weights by instance key (`service:id`). */
  readonly weights = new Map<string, number>();
  readonly routes = new Map<string, RouteSnapshot>();
  routeCommits = 0;

  listInstances(): Promise<StoredInstance[]> {
    return Promise.resolve([...this.instances.values()]);
  }

  putInstance(instance: StoredInstance): Promise<void> {
    this.instances.set(formatInstanceKey(instance), instance);
    return Promise.resolve();
  }

  listWeights(): Promise<Array<{ service: string; id: string; weight: number }>> {
    return Promise.resolve([...this.weights].map(([key, weight]) => {
      const [service = "", id = ""] = key.split(":");
      return { service, id, weight };
    }));
  }

  putWeight(service: string, id: string, weight: number): Promise<void> {
    this.weights.set(formatInstanceKey({ service, id }), weight);
    return Promise.resolve();
  }

  commitRoute(
    service: string,
    weights: readonly WeightChange[],
    previous: RouteSnapshot,
  ): Promise<void> {
    this.routeCommits++;
    this.routes.set(service, previous);
    for (const w of weights) this.weights.set(formatInstanceKey({ service, id: w.id }), w.weight);
    return Promise.resolve();
  }

  lastRoute(service: string): Promise<RouteSnapshot | undefined> {
    return Promise.resolve(this.routes.get(service));
  }

  forgetInstance(service: string, id: string): Promise<void> {
    const key = formatInstanceKey({ service, id });
    this.instances.delete(key);
    this.weights.delete(key);
    return Promise.resolve();
  }
}

/** Records file-system calls instead of making them. */
export class FakeFiles implements InstanceFiles {
  readonly removedDirs: string[] = [];
  /** Paths that exist (the data dirs a test wants present). */
  readonly present = new Set<string>();
  ensureDir(_path: string): Promise<void> {
    return Promise.resolve();
  }
  removeDir(path: string): Promise<void> {
    this.removedDirs.push(path);
    this.present.delete(path);
    return Promise.resolve();
  }
  exists(path: string): Promise<boolean> {
    return Promise.resolve(this.present.has(path));
  }
  removeFile(_path: string): Promise<void> {
    return Promise.resolve();
  }
}

/** Counts lifecycle metrics. */
export class FakeMetrics implements SupervisorMetrics {
  restarts = 0;
  wakes = 0;
  /** Services of the instances evicted under max_awake, in order. */
  readonly evictions: string[] = [];
  oomKills = 0;
  restarted(): void {
    this.restarts++;
  }
  woke(): void {
    this.wakes++;
  }
  evicted(service: string): void {
    this.evictions.push(service);
  }
  oomKilled(): void {
    this.oomKills++;
  }
}

/** One fake cgroup: its OOM counter is set by the test. */
export class FakeCgroup implements InstanceCgroup {
  readonly procsFiles: readonly string[];
  readonly memoryLimitMb: number | undefined;
  oomKillCount = 0;
  isDestroyed = false;
  constructor(name: string, memoryLimitMb: number | undefined) {
    this.procsFiles = [`/cgroup/tenement/${name}/cgroup.procs`];
    this.memoryLimitMb = memoryLimitMb;
  }
  oomKills(): Promise<number> {
    return Promise.resolve(this.oomKillCount);
  }
  killEscapees(_pgid: number, _timeoutMs: number): Promise<void> {
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    this.isDestroyed = true;
    return Promise.resolve();
  }
}

/** Hands out fake cgroups to services with limits; `failWith` makes creation fail. */
export class FakeCgroups implements CgroupPort {
  readonly created: FakeCgroup[] = [];
  leftoversRemovedFor: string[] | undefined;
  failWith: string | undefined;
  create(service: ServiceConfig, id: string): Promise<InstanceCgroup | undefined> {
    if (this.failWith !== undefined) return Promise.reject(new Error(this.failWith));
    const { memoryLimitMb, cpuShares, pidsLimit } = service;
    if (!memoryLimitMb && cpuShares === undefined && pidsLimit === undefined) {
      return Promise.resolve(undefined);
    }
    const cgroup = new FakeCgroup(`${service.name}.${id}`, memoryLimitMb || undefined);
    this.created.push(cgroup);
    return Promise.resolve(cgroup);
  }
  removeLeftovers(known: readonly { service: string; id: string }[]): Promise<void> {
    this.leftoversRemovedFor = known.map((k) => `${k.service}:${k.id}`);
    return Promise.resolve();
  }
}

/** Keeps every captured line as `service:id stream line`. */
export class MemoryLogs implements LogSink {
  readonly lines: string[] = [];
  append(service: string, id: string, stream: "stdout" | "stderr" | "event", line: string): void {
    this.lines.push(`${service}:${id} ${stream} ${line}`);
  }
}

const NO_REAPER: OrphanReaper = {
  reap: (_process: StoredProcess) => Promise.resolve(false),
  bootId: () => "boot",
};

/** A supervisor on fakes, and the fakes to drive it with. */
export interface TestSupervisor extends AsyncDisposable {
  readonly supervisor: Supervisor;
  readonly clock: FakeClock;
  readonly launcher: FakeLauncher;
  readonly prober: FakeProber;
  readonly repo: MemoryStateRepo;
  readonly files: FakeFiles;
  readonly metrics: FakeMetrics;
  readonly cgroups: FakeCgroups;
  readonly logs: MemoryLogs;
}

/**
 * Builds a Supervisor from `toml` (data dir `/data`) on fakes. Give services the command
 * `app {id}` so the fake launcher can tell instances apart. Not started: call
 * `supervisor.start()` to restore `[instances]` and run the idle sweep. Pass the `repo` of a
 * disposed test supervisor to model a daemon restart.
 */
export function createTestSupervisor(
  toml: string,
  options: { readonly repo?: MemoryStateRepo } = {},
): TestSupervisor {
  const config = parseConfig(`[settings]\ndata_dir = "/data"\n${toml}`, {
    path: "/srv/tenement.toml",
  });
  const clock = new FakeClock();
  const launcher = new FakeLauncher();
  const prober = new FakeProber(launcher);
  const repo = options.repo ?? new MemoryStateRepo();
  const files = new FakeFiles();
  const metrics = new FakeMetrics();
  const cgroups = new FakeCgroups();
  const logs = new MemoryLogs();
  const supervisor = new Supervisor({
    config,
    launcher,
    prober,
    portPool: new PortPool({ start: 40_000, end: 40_999, isFree: () => Promise.resolve(true) }),
    repo,
    logs,
    cgroups,
    clock,
    reaper: NO_REAPER,
    files,
    baseEnv: {},
    metrics,
    idleSweepMs: 1_000,
  });
  return {
    supervisor,
    clock,
    launcher,
    prober,
    repo,
    files,
    metrics,
    cgroups,
    logs,
    async [Symbol.asyncDispose]() {
      await supervisor[Symbol.asyncDispose]();
    },
  };
}
