/**
 * Memory and CPU use of an instance's processes, from the text of `/proc/<pid>/stat` or of its
 * cgroup's accounting files. Pure: parses text and sums; `resource_sampler.ts` does the reading.
 * @module
 */
import { type CgroupVersion, instanceCgroupDir, statField } from "./cgroup_plan.ts";

/** The fields of `/proc/<pid>/stat` that resource use needs. */
export interface ProcUsage {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** utime + stime + cutime + cstime: the process's CPU and that of the children it reaped. */
  readonly cpuTicks: number;
  /** Resident set size, in pages. */
  readonly rssPages: number;
}

/** Memory and CPU use. */
export interface Usage {
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

/** Linux's USER_HZ: the unit of the CPU times in `/proc/<pid>/stat` on every architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;
/** The page size of the `rss` field (4 KiB on x86-64 and on most arm64 kernels). */
export const PAGE_BYTES = 4096;

/**
 * Parses `/proc/<pid>/stat`. The command name is the tenant's to choose and may hold spaces and
 * parentheses, so the fields are counted from the last `)`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const fields = "S 1 42 42 0 -1 0 0 0 0 0 250 50 7 3 20 0 1 0 100 1000 300";
 * deepEqual(parseProcUsage(`42 (a) (b c) ${fields}`), {
 *   pid: 42, ppid: 1, pgid: 42, cpuTicks: 310, rssPages: 300,
 * });
 * ```
 */
export function parseProcUsage(text: string): ProcUsage | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // fields[0] is field 3 (state); field N is fields[N - 3].
  const fields = text.slice(close + 2).split(" ");
  const numberAt = (field: number): number => Number(fields[field - 3]);
  const cpuTicks = numberAt(14) + numberAt(15) + numberAt(16) + numberAt(17);
  const usage = {
    pid,
    ppid: numberAt(4),
    pgid: numberAt(5),
    cpuTicks,
    rssPages: numberAt(24),
  };
  return Object.values(usage).every(Number.isFinite) && pid > 0 ? usage : undefined;
}

/** An instance's root process: `pid` leads its process group. */
export interface UsageRoot {
  readonly key: string;
  readonly pid: number;
}

/**
 * The use of each root's processes: those of its process group plus every descendant of the root
 * (a sandboxed app runs in a session of its own), each counted once.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const procs = [
 *   { pid: 10, ppid: 1, pgid: 10, cpuTicks: 100, rssPages: 10 },
 *   { pid: 11, ppid: 10, pgid: 10, cpuTicks: 50, rssPages: 5 },
 *   { pid: 12, ppid: 11, pgid: 12, cpuTicks: 50, rssPages: 5 }, // its own session
 *   { pid: 20, ppid: 1, pgid: 20, cpuTicks: 999, rssPages: 999 },
 * ];
 * deepEqual(usageOfTrees(procs, [{ key: "a", pid: 10 }]).get("a"),
 *   { rssBytes: 20 * 4096, cpuSeconds: 2 });
 * ```
 */
export function usageOfTrees(
  procs: readonly ProcUsage[],
  roots: readonly UsageRoot[],
): Map<string, Usage> {
  const byPid = new Map<number, ProcUsage>();
  const byParent = new Map<number, ProcUsage[]>();
  const byGroup = new Map<number, ProcUsage[]>();
  for (const proc of procs) {
    byPid.set(proc.pid, proc);
    push(byParent, proc.ppid, proc);
    push(byGroup, proc.pgid, proc);
  }
  const result = new Map<string, Usage>();
  for (const root of roots) {
    const seen = new Set<number>();
    let ticks = 0;
    let pages = 0;
    const queue = [...byGroup.get(root.pid) ?? []];
    const leader = byPid.get(root.pid);
    if (leader !== undefined) queue.push(leader);
    while (queue.length > 0) {
      const proc = queue.pop()!;
      if (seen.has(proc.pid)) continue;
      seen.add(proc.pid);
      ticks += proc.cpuTicks;
      pages += proc.rssPages;
      queue.push(...byParent.get(proc.pid) ?? []);
    }
    if (seen.size > 0) {
      result.set(root.key, {
        rssBytes: pages * PAGE_BYTES,
        cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
      });
    }
  }
  return result;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Where an instance's cgroup accounts its memory and CPU, and how to read each file. */
export interface CgroupUsageFiles {
  /** v2 `memory.current` (bytes), or v1 `memory.stat` (field `total_rss`). */
  readonly memory: string;
  /** v2 `cpu.stat` (field `usage_usec`), or v1 `cpuacct.usage` (ns; cpu and cpuacct comounted). */
  readonly cpu: string;
}

/**
 * The accounting files of the cgroup `cgroup_plan.ts` gives `service`'s instance `id`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(cgroupUsageFiles("v2", "/cg", "app", "a"), {
 *   memory: "/cg/tenement/app.a/memory.current",
 *   cpu: "/cg/tenement/app.a/cpu.stat",
 * });
 * ```
 */
export function cgroupUsageFiles(
  version: CgroupVersion,
  root: string,
  service: string,
  id: string,
): CgroupUsageFiles {
  const dirOf = (c: "memory" | "cpu"): string => instanceCgroupDir(version, root, service, id, c);
  return version === "v2"
    ? { memory: `${dirOf("memory")}/memory.current`, cpu: `${dirOf("cpu")}/cpu.stat` }
    : { memory: `${dirOf("memory")}/memory.stat`, cpu: `${dirOf("cpu")}/cpuacct.usage` };
}

/**
 * The memory (bytes) in a cgroup's memory file: v2 `memory.current`, v1 `memory.stat`'s
 * `total_rss`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(cgroupMemoryBytes("v2", "123\n"), 123);
 * equal(cgroupMemoryBytes("v1", "cache 5\nrss 7\ntotal_cache 9\ntotal_rss 11\n"), 11);
 * ```
 */
export function cgroupMemoryBytes(version: CgroupVersion, text: string): number | undefined {
  if (version === "v1") return statField(text, "total_rss");
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(value) ? value : undefined;
}

/**
 * The CPU seconds in a cgroup's CPU file: v2 `cpu.stat`'s `usage_usec`, v1 `cpuacct.usage` (ns).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(cgroupCpuSeconds("v2", "usage_usec 2500000\nuser_usec 2000000\n"), 2.5);
 * equal(cgroupCpuSeconds("v1", "1500000000\n"), 1.5);
 * ```
 */
export function cgroupCpuSeconds(version: CgroupVersion, text: string): number | undefined {
  if (version === "v2") {
    const usec = statField(text, "usage_usec");
    return usec === undefined ? undefined : usec / 1e6;
  }
  const ns = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(ns) ? ns / 1e9 : undefined;
}
