/**
 * Creates, empties and removes instance cgroups on the host (v2 unified or v1 per controller),
 * following the plan of `cgroup_plan.ts`. Limits that cannot be applied fail the spawn with the
 * path and the fix; nothing here lets an instance run silently unlimited.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServiceConfig } from "../config/schema.ts";
import { messageOf, SpawnError } from "../core/errors.ts";
import {
  cgroupLeafName,
  type CgroupPlan,
  type CgroupVersion,
  type Controller,
  controllersOf,
  limitsOf,
  oomKillsIn,
  planCgroup,
  TENEMENT_CGROUP,
} from "./cgroup_plan.ts";
import { listGroupMembers } from "./proc_stat.ts";
import { emptyAndRemove, exists, killMembers, listDirs, readProcs } from "./cgroup_members.ts";

const log = getLogger(["tenement", "cgroups"]);

const FIX =
  "run ten serve as root, or delegate a cgroup subtree to tenement's user and set [settings] cgroup_root to it, or remove the limits from the service";
const CONTROLLERS: readonly Controller[] = ["memory", "cpu", "pids"];
/** Longest wait for a previous run's cgroup to be removed before a restart makes its own. */
const RELEASE_WAIT_MS = 30_000;

async function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/** Options of {@link Cgroups}. */
export interface CgroupsOptions {
  /** The cgroup file system root. @default {"/sys/fs/cgroup"} */
  readonly root?: string;
}

/** The host's cgroups, as the supervisor's `CgroupPort`. */
export class Cgroups {
  readonly #root: string;
  /**
   * Runs' cgroups being emptied and removed, by leaf name: a restart reuses the name, so its
   * cgroup is made only once the previous run's is gone (or the clean-up of the previous run
   * would kill the new one).
   */
  readonly #releasing = new Map<string, Promise<void>>();

  constructor(options: CgroupsOptions = {}) {
    this.#root = options.root ?? "/sys/fs/cgroup";
  }

  /** v2 when `{root}/cgroup.controllers` exists, v1 when a controller is mounted under root. */
  async detect(): Promise<CgroupVersion | undefined> {
    if (await exists(`${this.#root}/cgroup.controllers`)) return "v2";
    for (const c of CONTROLLERS) {
      if (await exists(`${this.#root}/${c}/cgroup.procs`)) return "v1";
    }
    return undefined;
  }

  /** Creates the cgroup of `service`'s instance `id`; undefined when it sets no limit. */
  async create(service: ServiceConfig, id: string): Promise<InstanceCgroupHandle | undefined> {
    const limits = limitsOf(service);
    if (limits === undefined) return undefined;
    const what = `Cannot apply the limits of "${service.name}:${id}"`;
    const version = await this.detect();
    if (version === undefined) {
      throw new SpawnError(
        `${what}: no cgroup file system at ${this.#root} (neither ${this.#root}/cgroup.controllers for cgroup v2 nor ${this.#root}/memory, cpu, pids for v1); mount cgroups, or ${FIX}`,
      );
    }
    const plan = planCgroup({ version, root: this.#root, service: service.name, id, limits });
    const name = cgroupLeafName(service.name, id);
    const previous = this.#releasing.get(name);
    if (previous !== undefined) await waitAtMost(previous, RELEASE_WAIT_MS);
    if (version === "v1") {
      for (const c of controllersOf(limits)) {
        const procs = `${this.#root}/${c}/cgroup.procs`;
        if (!await exists(procs)) {
          throw new SpawnError(
            `${what}: the cgroup v1 "${c}" controller is not mounted (no ${procs}); mount it, or ${FIX}`,
          );
        }
      }
    }
    // A leftover of an earlier run of this instance: its processes are this instance's.
    await emptyAndRemove(plan.leafDirs);
    try {
      await carryOut(plan);
    } catch (err: unknown) {
      await emptyAndRemove(plan.leafDirs).catch(() => {});
      throw new SpawnError(`${what}: ${messageOf(err)}; ${FIX}`, { cause: err });
    }
    return new InstanceCgroupHandle(plan, version, limits.memoryLimitMb, (released) => {
      this.#releasing.set(name, released);
      void released.then(() => {
        if (this.#releasing.get(name) === released) this.#releasing.delete(name);
      });
    });
  }

  /**
   * Removes `tenement/*` cgroups left by a previous run: empty ones, and those of `known`
   * instances after killing what is still in them (their orphans were reaped already, so what is
   * left escaped its process group). Non-empty cgroups of unknown instances are left in place
   * with a warning: they may belong to another tenement sharing this cgroup root.
   */
  async removeLeftovers(known: readonly { service: string; id: string }[]): Promise<void> {
    try {
      await this.#removeLeftovers(known);
    } catch (err: unknown) {
      // Best effort: a daemon without limits (or without rights) must still start.
      log.warn("Cannot look for leftover cgroups under {root}: {err}", {
        root: this.#root,
        err: messageOf(err),
      });
    }
  }

  async #removeLeftovers(known: readonly { service: string; id: string }[]): Promise<void> {
    const version = await this.detect();
    if (version === undefined) return;
    const parents = version === "v2"
      ? [`${this.#root}/${TENEMENT_CGROUP}`]
      : CONTROLLERS.map((c) => `${this.#root}/${c}/${TENEMENT_CGROUP}`);
    const knownNames = new Set(known.map((k) => `${k.service}.${k.id}`));
    for (const parent of parents) {
      for (const name of await listDirs(parent)) {
        const dir = `${parent}/${name}`;
        try {
          const pids = await readProcs(dir);
          if (pids.length > 0 && !knownNames.has(name)) {
            log.warn("Leaving cgroup {dir}: {count} processes of no known instance run in it", {
              dir,
              count: pids.length,
            });
            continue;
          }
          if (pids.length > 0) {
            log.warn("Killing {count} leftover processes in {dir}", { dir, count: pids.length });
          }
          await emptyAndRemove([dir]);
        } catch (err: unknown) {
          log.warn("Cannot remove leftover cgroup {dir}: {err}", { dir, err: messageOf(err) });
        }
      }
    }
  }
}

/** One instance's cgroup (the supervisor's `InstanceCgroup`). */
export class InstanceCgroupHandle {
  readonly procsFiles: readonly string[];
  readonly memoryLimitMb: number | undefined;
  readonly #plan: CgroupPlan;
  readonly #version: CgroupVersion;
  readonly #onRelease: (released: Promise<void>) => void;
  #released: PromiseWithResolvers<void> | undefined;

  constructor(
    plan: CgroupPlan,
    version: CgroupVersion,
    memoryLimitMb: number | undefined,
    onRelease: (released: Promise<void>) => void,
  ) {
    this.#plan = plan;
    this.#version = version;
    this.procsFiles = plan.procsFiles;
    this.memoryLimitMb = memoryLimitMb;
    this.#onRelease = onRelease;
  }

  /** Announces, once, that this run's cgroup is going away (until `destroy` is done). */
  #beginRelease(): PromiseWithResolvers<void> {
    if (this.#released === undefined) {
      this.#released = Promise.withResolvers<void>();
      this.#onRelease(this.#released.promise);
    }
    return this.#released;
  }

  /**
   * OOM kills in the cgroup: the `oom_kill` counter, or on v1 kernels before 4.13 (no counter)
   * 1 when the memory limit was ever hit (`memory.failcnt`).
   */
  async oomKills(): Promise<number> {
    const file = this.#plan.oomFile;
    if (file === undefined) return 0;
    try {
      const text = await Deno.readTextFile(file);
      if (this.#version === "v1" && !/^oom_kill /m.test(text)) {
        const failures = Number((await Deno.readTextFile(file.replace(/[^/]+$/, "memory.failcnt")))
          .trim());
        return failures > 0 ? 1 : 0;
      }
      return oomKillsIn(text);
    } catch {
      return 0;
    }
  }

  /** Waits until group `pgid` has no live member (at most `timeoutMs`), then kills the rest. */
  async killEscapees(pgid: number, timeoutMs: number): Promise<void> {
    this.#beginRelease();
    const deadline = Date.now() + timeoutMs;
    while ((await listGroupMembers(pgid)).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      await killMembers(this.#plan.leafDirs);
    } catch (err: unknown) {
      log.warn("Cannot empty cgroup {dirs}: {err}", {
        dirs: this.#plan.leafDirs.join(" "),
        err: messageOf(err),
      });
    }
  }

  /** Kills what is left in the cgroup, then removes it. */
  async destroy(): Promise<void> {
    const released = this.#beginRelease();
    try {
      await emptyAndRemove(this.#plan.leafDirs);
    } catch (err: unknown) {
      log.warn("Cannot remove cgroup {dirs}: {err}", {
        dirs: this.#plan.leafDirs.join(" "),
        err: messageOf(err),
      });
    } finally {
      released.resolve();
    }
  }
}

/** Creates the directories, enables the controllers and writes the limits of `plan`. */
async function carryOut(plan: CgroupPlan): Promise<void> {
  for (const dir of plan.dirs) {
    try {
      await Deno.mkdir(dir);
    } catch (err: unknown) {
      if (!(err instanceof Deno.errors.AlreadyExists)) {
        throw new Error(`cannot create the cgroup ${dir} (${messageOf(err)})`, { cause: err });
      }
    }
  }
  for (const write of plan.enable) {
    await writeControl(write.path, write.value, "cannot enable the controllers");
  }
  for (const write of plan.limits) {
    if (write.isOptional && !await exists(write.path)) continue;
    await writeControl(write.path, write.value, "cannot set the limit");
  }
  // Joining happens in the child; an unwritable cgroup.procs is found here, before the spawn.
  // (`create` opens the kernel's existing file; it never makes one on a real cgroup fs.)
  for (const procs of plan.procsFiles) {
    try {
      (await Deno.open(procs, { write: true, create: true })).close();
    } catch (err: unknown) {
      throw new Error(`cannot join the cgroup: ${procs} is not writable (${messageOf(err)})`, {
        cause: err,
      });
    }
  }
}

async function writeControl(path: string, value: string, what: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, value);
  } catch (err: unknown) {
    throw new Error(`${what}: writing "${value}" to ${path} failed (${messageOf(err)})`, {
      cause: err,
    });
  }
}
