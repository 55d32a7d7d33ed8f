/**
 * Ties a run's process handle to its cgroup: the exit says whether the OOM killer ended the run,
 * and the cgroup is emptied (escaped children too) and removed once the process group is gone.
 * @module
 */
import type { ExitInfo } from "../core/lifecycle.ts";
import type { InstanceCgroup, ProcessHandle } from "./ports.ts";

/** How long after the grace period the group may take to go before escapees are killed anyway. */
const ESCAPEE_WAIT_MS = 10_000;

/**
 * `handle` with `cgroup` attached: `exited` carries `oom` when the run was SIGKILLed and the
 * cgroup counted an OOM kill; `stop` and `killRemnants` also destroy the cgroup.
 */
export function withCgroup(handle: ProcessHandle, cgroup: InstanceCgroup): ProcessHandle {
  const exited = handle.exited.then(async (exit): Promise<ExitInfo> => {
    const limitMb = cgroup.memoryLimitMb;
    // The OOM killer sends SIGKILL; a child killed while the app lived on does not count.
    if (limitMb === undefined || exit.signal !== "SIGKILL") return exit;
    return await cgroup.oomKills() > 0 ? { ...exit, oom: { memoryLimitMb: limitMb } } : exit;
  });
  return {
    pid: handle.pid,
    startTicks: handle.startTicks,
    exited,
    async stop(graceMs: number): Promise<ExitInfo> {
      // The group's stop ends when its output pipes close, which an escaped child would delay
      // for as long as it lives: it is killed as soon as the group is gone.
      const stopping = handle.stop(graceMs);
      try {
        await cgroup.killEscapees(handle.pid, graceMs + ESCAPEE_WAIT_MS);
        return await stopping;
      } finally {
        await cgroup.destroy();
      }
    },
    async killRemnants(): Promise<void> {
      const killing = handle.killRemnants();
      try {
        await cgroup.killEscapees(handle.pid, ESCAPEE_WAIT_MS);
        await killing;
      } finally {
        await cgroup.destroy();
      }
    },
  };
}
