/**
 * Samples the memory and CPU use of every awake instance on a timer: from its cgroup when it has
 * one, else by summing `/proc/<pid>/stat` over its processes (one pass over `/proc` per sample
 * for all instances). Readers get the cached last sample: a scrape never walks `/proc`.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CgroupVersion } from "./cgroup_plan.ts";
import {
  cgroupCpuSeconds,
  cgroupMemoryBytes,
  cgroupUsageFiles,
  parseProcUsage,
  type ProcUsage,
  type Usage,
  usageOfTrees,
} from "./process_usage.ts";

const log = getLogger(["tenement", "resources"]);

/** Files read between two yields to the event loop, so a big `/proc` does not stall requests. */
const READS_PER_SLICE = 200;

/** An awake instance: `pid` leads its process group. */
export interface SampleTarget {
  readonly service: string;
  readonly id: string;
  readonly pid: number;
}

/** One instance's use in a sample. */
export interface InstanceSample extends Usage {
  readonly service: string;
  readonly id: string;
}

/** Options of {@linkcode ResourceSampler}. */
export interface ResourceSamplerOptions {
  /** The instances to measure now (those with a process). */
  readonly targets: () => readonly SampleTarget[];
  /** Called with every sample. */
  readonly onSample?: (samples: readonly InstanceSample[]) => void;
  /** The cgroup file system root. @default {"/sys/fs/cgroup"} */
  readonly cgroupRoot?: string;
  /** Time between two samples. @default {5000} */
  readonly everyMs?: number;
  /** The `/proc` mount. @default {"/proc"} */
  readonly procRoot?: string;
}

/** Measures awake instances every few seconds; dispose it to stop. */
export class ResourceSampler implements AsyncDisposable {
  readonly #options: ResourceSamplerOptions;
  readonly #cgroupRoot: string;
  readonly #procRoot: string;
  readonly #stop = new AbortController();
  #loop: Promise<void> = Promise.resolve();
  #version: CgroupVersion | undefined;
  /** The last sample, by `service:id`. */
  #last = new Map<string, Usage & { pid: number }>();

  constructor(options: ResourceSamplerOptions) {
    this.#options = options;
    this.#cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup";
    this.#procRoot = options.procRoot ?? "/proc";
  }

  /** Starts sampling: now, then every `everyMs`. */
  start(): void {
    this.#version = detectVersion(this.#cgroupRoot);
    this.#loop = this.#run(this.#stop.signal);
  }

  /** The last measured use of `service:id`, or undefined when it was not awake then. */
  usage(service: string, id: string): Usage | undefined {
    return this.#last.get(`${service}:${id}`);
  }

  /** Measures every target now and publishes the result. */
  async sampleNow(): Promise<void> {
    const targets = this.#options.targets();
    const cgroupUse = await this.#fromCgroups(targets);
    const missing = targets.filter((t) => {
      const use = cgroupUse.get(keyOf(t));
      return use?.rssBytes === undefined || use.cpuSeconds === undefined;
    });
    const procUse = missing.length === 0 ? new Map<string, Usage>() : usageOfTrees(
      await this.#readProc(),
      missing.map((t) => ({ key: keyOf(t), pid: t.pid })),
    );
    const next = new Map<string, Usage & { pid: number }>();
    const samples: InstanceSample[] = [];
    for (const target of targets) {
      const key = keyOf(target);
      const fromCgroup = cgroupUse.get(key);
      const fromProc = procUse.get(key);
      const rssBytes = fromCgroup?.rssBytes ?? fromProc?.rssBytes;
      let cpuSeconds = fromCgroup?.cpuSeconds ?? fromProc?.cpuSeconds;
      if (rssBytes === undefined || cpuSeconds === undefined) continue;
      // A child that outlived its parent leaves the tree with its CPU time: a counter must not
      // go down within one run.
      const before = this.#last.get(key);
      if (before !== undefined && before.pid === target.pid) {
        cpuSeconds = Math.max(cpuSeconds, before.cpuSeconds);
      }
      next.set(key, { rssBytes, cpuSeconds, pid: target.pid });
      samples.push({ service: target.service, id: target.id, rssBytes, cpuSeconds });
    }
    this.#last = next;
    this.#options.onSample?.(samples);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const everyMs = this.#options.everyMs ?? 5_000;
    while (!signal.aborted) {
      try {
        await this.sampleNow();
      } catch (err: unknown) {
        log.warn("Cannot sample instance resource use: {err}", { err });
      }
      await sleep(everyMs, signal);
    }
  }

  /** Use read from the instances' cgroups; a field is undefined where there is no such file. */
  async #fromCgroups(
    targets: readonly SampleTarget[],
  ): Promise<Map<string, Partial<Usage>>> {
    const result = new Map<string, Partial<Usage>>();
    const version = this.#version;
    if (version === undefined) return result;
    for (let start = 0; start < targets.length; start += READS_PER_SLICE) {
      for (const target of targets.slice(start, start + READS_PER_SLICE)) {
        const use = readCgroupUsage(version, this.#cgroupRoot, target);
        if (use !== undefined) result.set(keyOf(target), use);
      }
      await yieldToLoop();
    }
    return result;
  }

  /** Every process's stat, a slice at a time. */
  async #readProc(): Promise<ProcUsage[]> {
    const pids = listPids(this.#procRoot);
    const procs: ProcUsage[] = [];
    for (let start = 0; start < pids.length; start += READS_PER_SLICE) {
      readStats(this.#procRoot, pids.slice(start, start + READS_PER_SLICE), procs);
      await yieldToLoop();
    }
    return procs;
  }
}

function keyOf(target: SampleTarget): string {
  return `${target.service}:${target.id}`;
}

// The reads below are synchronous on purpose: procfs and cgroupfs answer from memory in
// microseconds, while each async read costs a thread-pool round trip.

function detectVersion(root: string): CgroupVersion | undefined {
  if (existsNow(`${root}/cgroup.controllers`)) return "v2";
  return existsNow(`${root}/memory`) || existsNow(`${root}/cpu`) ? "v1" : undefined;
}

function existsNow(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readNow(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

function readCgroupUsage(
  version: CgroupVersion,
  root: string,
  target: SampleTarget,
): Partial<Usage> | undefined {
  const files = cgroupUsageFiles(version, root, target.service, target.id);
  const memoryText = readNow(files.memory);
  const cpuText = readNow(files.cpu);
  if (memoryText === undefined && cpuText === undefined) return undefined;
  const rssBytes = memoryText === undefined ? undefined : cgroupMemoryBytes(version, memoryText);
  const cpuSeconds = cpuText === undefined ? undefined : cgroupCpuSeconds(version, cpuText);
  return {
    ...(rssBytes === undefined ? {} : { rssBytes }),
    ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
  };
}

function listPids(procRoot: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync(procRoot)) {
    const pid = Number(entry.name);
    if (entry.isDirectory && Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

function readStats(procRoot: string, pids: readonly number[], into: ProcUsage[]): void {
  for (const pid of pids) {
    const text = readNow(`${procRoot}/${pid}/stat`);
    const usage = text === undefined ? undefined : parseProcUsage(text);
    if (usage !== undefined) into.push(usage);
  }
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
