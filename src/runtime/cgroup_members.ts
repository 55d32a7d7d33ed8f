/**
 * The members of cgroup directories: reading `cgroup.procs`, killing every process in them until
 * none is left (forks meanwhile included), and removing the directories. File-system helpers of
 * `cgroups.ts`; no policy here.
 * @module
 */

/** Rounds of SIGKILL over a cgroup's members before giving up (processes may fork meanwhile). */
const KILL_ROUNDS = 50;

/** Empties and removes the cgroup directories `dirs`; a missing one is already gone. */
export async function emptyAndRemove(dirs: readonly string[]): Promise<void> {
  const present = [];
  for (const dir of dirs) if (await exists(dir)) present.push(dir);
  if (present.length === 0) return;
  await killMembers(present);
  for (const dir of present) await removeCgroupDir(dir);
}

/** SIGKILLs every process in `dirs` (v2 `cgroup.kill` when present) until none is left. */
export async function killMembers(present: readonly string[]): Promise<void> {
  for (let round = 0; round < KILL_ROUNDS; round++) {
    let count = 0;
    for (const dir of present) {
      const pids = await readProcs(dir);
      count += pids.length;
      if (pids.length === 0) continue;
      if (await exists(`${dir}/cgroup.kill`)) {
        await Deno.writeTextFile(`${dir}/cgroup.kill`, "1").catch(() => {});
      }
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
    }
    if (count === 0) return;
    await new Promise((resolve) => setTimeout(resolve, round < 5 ? 10 : 50));
  }
}

/** rmdir, retried while the kernel still counts exiting processes (EBUSY). */
async function removeCgroupDir(dir: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.remove(dir);
      return;
    } catch (err: unknown) {
      if (err instanceof Deno.errors.NotFound) return;
      if (!(err instanceof Deno.errors.Busy) || attempt >= 40) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** The pids in a cgroup's `cgroup.procs`; none when it is gone. */
export async function readProcs(dir: string): Promise<number[]> {
  try {
    const text = await Deno.readTextFile(`${dir}/cgroup.procs`);
    return text.split("\n").filter((line) => line.trim() !== "").map(Number);
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

export async function listDirs(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) if (entry.isDirectory) names.push(entry.name);
  } catch (err: unknown) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
