/**
 * What an instance's cgroup looks like on disk: which directories, which limit files with which
 * values, which `cgroup.procs` files to join, for cgroup v2 (one unified tree) and v1 (one tree
 * per controller). Pure: no I/O; `cgroups.ts` carries the plan out.
 * @module
 */

/** The limits of one instance; an undefined field sets nothing. */
export interface CgroupLimits {
  readonly memoryLimitMb?: number | undefined;
  readonly cpuShares?: number | undefined;
  readonly pidsLimit?: number | undefined;
}

/** The service keys limits come from. */
export interface LimitKeys {
  readonly memoryLimitMb: number | undefined;
  readonly cpuShares: number | undefined;
  readonly pidsLimit: number | undefined;
}

/** A cgroup controller tenement uses. */
export type Controller = "memory" | "cpu" | "pids";

/** The cgroup layout found on the host. */
export type CgroupVersion = "v1" | "v2";

/** Name of tenement's own cgroup under the root (v2) or under each controller (v1). */
export const TENEMENT_CGROUP = "tenement";

/** One limit file and what to write to it, in order. */
export interface LimitWrite {
  readonly path: string;
  readonly value: string;
  /** Written only when the file exists (v1 `memory.memsw.limit_in_bytes` needs swap accounting). */
  readonly isOptional?: boolean;
}

/** Everything to do to create one instance's cgroup. */
export interface CgroupPlan {
  /** Directories to create, parents first. */
  readonly dirs: readonly string[];
  /** v2: `+memory +cpu +pids` for the parents' `cgroup.subtree_control`, parents first. */
  readonly enable: readonly LimitWrite[];
  readonly limits: readonly LimitWrite[];
  /** The `cgroup.procs` files the process joins. */
  readonly procsFiles: readonly string[];
  /** The instance's cgroup directories (one for v2, one per controller for v1), to remove. */
  readonly leafDirs: readonly string[];
  /** Where the OOM-kill counter is read (`oom_kill N`), when memory is limited. */
  readonly oomFile: string | undefined;
}

/**
 * The limits a service sets, or undefined when it sets none (then there is no cgroup at all);
 * `memory_limit_mb = 0` means no memory limit.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * equal(limitsOf({ memoryLimitMb: 0, cpuShares: undefined, pidsLimit: undefined }), undefined);
 * deepEqual(limitsOf({ memoryLimitMb: 64, cpuShares: undefined, pidsLimit: 20 }),
 *   { memoryLimitMb: 64, pidsLimit: 20 });
 * ```
 */
export function limitsOf(keys: LimitKeys): CgroupLimits | undefined {
  const limits: { memoryLimitMb?: number; cpuShares?: number; pidsLimit?: number } = {};
  if (keys.memoryLimitMb !== undefined && keys.memoryLimitMb > 0) {
    limits.memoryLimitMb = keys.memoryLimitMb;
  }
  if (keys.cpuShares !== undefined) limits.cpuShares = keys.cpuShares;
  if (keys.pidsLimit !== undefined) limits.pidsLimit = keys.pidsLimit;
  return Object.keys(limits).length === 0 ? undefined : limits;
}

/** The controllers `limits` need, in a fixed order. */
export function controllersOf(limits: CgroupLimits): Controller[] {
  const used: Controller[] = [];
  if (limits.memoryLimitMb !== undefined) used.push("memory");
  if (limits.cpuShares !== undefined) used.push("cpu");
  if (limits.pidsLimit !== undefined) used.push("pids");
  return used;
}

/**
 * cgroup v2 `cpu.weight` for a `cpu_shares` value. `cpu_shares` keeps its v1 meaning on both
 * versions (1024 is the default share), converted the way systemd converts `CPUShares=` to
 * `CPUWeight=`: `shares × 100 / 1024`, clamped to 1–10000, so the default share is the default
 * weight 100.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(cpuWeightOfShares(1024), 100);
 * equal(cpuWeightOfShares(512), 50);
 * equal(cpuWeightOfShares(1), 1);
 * equal(cpuWeightOfShares(2_000_000), 10000);
 * ```
 */
export function cpuWeightOfShares(shares: number): number {
  return Math.min(10_000, Math.max(1, Math.round((shares * 100) / 1024)));
}

/** v1 `cpu.shares` for a `cpu_shares` value: the kernel accepts 2–262144. */
export function v1CpuShares(shares: number): number {
  return Math.min(262_144, Math.max(2, shares));
}

/** The leaf name of an instance's cgroup: `{service}.{id}` ("." is in no service name or id). */
export function cgroupLeafName(service: string, id: string): string {
  return `${service}.${id}`;
}

/**
 * The directory of an instance's cgroup: `{root}/tenement/{service}.{id}` on v2, and
 * `{root}/{controller}/tenement/{service}.{id}` for one controller on v1.
 */
export function instanceCgroupDir(
  version: CgroupVersion,
  root: string,
  service: string,
  id: string,
  controller: Controller,
): string {
  const leaf = cgroupLeafName(service, id);
  return version === "v2"
    ? `${root}/${TENEMENT_CGROUP}/${leaf}`
    : `${root}/${controller}/${TENEMENT_CGROUP}/${leaf}`;
}

/** Inputs of {@link planCgroup}. */
export interface PlanCgroupInputs {
  readonly version: CgroupVersion;
  /** The cgroup file system root, e.g. `/sys/fs/cgroup`. */
  readonly root: string;
  readonly service: string;
  readonly id: string;
  readonly limits: CgroupLimits;
}

/**
 * The cgroup of one instance: `{root}/tenement/{service}.{id}` on v2 (controllers enabled in the
 * parents' `cgroup.subtree_control`), `{root}/{controller}/tenement/{service}.{id}` per used
 * controller on v1. Memory limits also forbid swap, so the limit means RAM.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const plan = planCgroup({ version: "v2", root: "/cg", service: "app", id: "a",
 *   limits: { pidsLimit: 20 } });
 * deepEqual(plan.procsFiles, ["/cg/tenement/app.a/cgroup.procs"]);
 * deepEqual(plan.limits, [{ path: "/cg/tenement/app.a/pids.max", value: "20" }]);
 * ```
 */
export function planCgroup(p: PlanCgroupInputs): CgroupPlan {
  const used = controllersOf(p.limits);
  const { limits } = p;
  if (p.version === "v2") {
    const parent = `${p.root}/${TENEMENT_CGROUP}`;
    const dir = instanceCgroupDir("v2", p.root, p.service, p.id, "memory");
    const enableValue = used.map((c) => `+${c}`).join(" ");
    const writes: LimitWrite[] = [];
    if (limits.memoryLimitMb !== undefined) {
      writes.push({ path: `${dir}/memory.max`, value: String(limits.memoryLimitMb * 1048576) });
      writes.push({ path: `${dir}/memory.swap.max`, value: "0", isOptional: true });
    }
    if (limits.cpuShares !== undefined) {
      writes.push({
        path: `${dir}/cpu.weight`,
        value: String(cpuWeightOfShares(limits.cpuShares)),
      });
    }
    if (limits.pidsLimit !== undefined) {
      writes.push({ path: `${dir}/pids.max`, value: String(limits.pidsLimit) });
    }
    return {
      dirs: [parent, dir],
      enable: [
        { path: `${p.root}/cgroup.subtree_control`, value: enableValue },
        { path: `${parent}/cgroup.subtree_control`, value: enableValue },
      ],
      limits: writes,
      procsFiles: [`${dir}/cgroup.procs`],
      leafDirs: [dir],
      oomFile: limits.memoryLimitMb === undefined ? undefined : `${dir}/memory.events`,
    };
  }
  const dirOf = (c: Controller): string => instanceCgroupDir("v1", p.root, p.service, p.id, c);
  const writes: LimitWrite[] = [];
  if (limits.memoryLimitMb !== undefined) {
    const bytes = String(limits.memoryLimitMb * 1048576);
    // memsw (memory + swap) must not be below the memory limit, so it is written second.
    writes.push({ path: `${dirOf("memory")}/memory.limit_in_bytes`, value: bytes });
    writes.push({
      path: `${dirOf("memory")}/memory.memsw.limit_in_bytes`,
      value: bytes,
      isOptional: true,
    });
  }
  if (limits.cpuShares !== undefined) {
    writes.push({
      path: `${dirOf("cpu")}/cpu.shares`,
      value: String(v1CpuShares(limits.cpuShares)),
    });
  }
  if (limits.pidsLimit !== undefined) {
    writes.push({ path: `${dirOf("pids")}/pids.max`, value: String(limits.pidsLimit) });
  }
  return {
    dirs: used.flatMap((c) => [`${p.root}/${c}/${TENEMENT_CGROUP}`, dirOf(c)]),
    enable: [],
    limits: writes,
    procsFiles: used.map((c) => `${dirOf(c)}/cgroup.procs`),
    leafDirs: used.map(dirOf),
    oomFile: limits.memoryLimitMb === undefined
      ? undefined
      : `${dirOf("memory")}/memory.oom_control`,
  };
}

/**
 * The `oom_kill` count in a flat-keyed cgroup file (v2 `memory.events`, v1
 * `memory.oom_control`); 0 when the line is missing (v1 kernels before 4.13).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(oomKillsIn("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 1);
 * equal(oomKillsIn("oom_kill_disable 0\nunder_oom 0\n"), 0);
 * ```
 */
export function oomKillsIn(text: string): number {
  return statField(text, "oom_kill") ?? 0;
}

/**
 * A number field of a flat-keyed cgroup file, one `key value` per line (`cpu.stat`,
 * `memory.stat`, `memory.events`, `memory.oom_control`); undefined when missing or not a number.
 */
export function statField(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0 && line.slice(0, space) === name) {
      const value = Number(line.slice(space + 1));
      return Number.isFinite(value) ? value : undefined;
    }
  }
  return undefined;
}
