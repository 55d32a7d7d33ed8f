/**
 * Kills process groups a previous daemon run left behind (after `kill -9` of `ten serve` or a
 * crash), without ever touching a stranger that reused a pid.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { listGroupMembers, readBootId, readProcStat } from "./proc_stat.ts";
import { signalGroup } from "./process_group.ts";

const log = getLogger(["tenement", "orphans"]);

/** The stored identity of a group, as the supervisor's StoredProcess. */
export interface OrphanRecord {
  readonly pid: number;
  readonly startTicks: number | undefined;
  readonly bootId: string | undefined;
}

/** Finds and kills leftover groups. */
export class OrphanReaper {
  readonly #bootId = readBootId();

  /** The current boot's id. */
  bootId(): string | undefined {
    return this.#bootId;
  }

  /**
   * SIGKILLs group `record.pid` when it is provably ours: same boot, and either the leader is alive
   * with the recorded start time, or the leader is gone and members of its group remain (Linux
   * never reuses a pid while it still names a process group). Returns true when it killed.
   */
  async reap(record: OrphanRecord): Promise<boolean> {
    if (record.bootId !== undefined && record.bootId !== this.#bootId) return false;
    const leader = await readProcStat(record.pid);
    if (leader) {
      const isOurs = leader.pgid === record.pid && record.startTicks !== undefined &&
        leader.startTicks === record.startTicks;
      if (!isOurs) return false;
    } else if ((await listGroupMembers(record.pid)).length === 0) {
      return false;
    }
    signalGroup(record.pid, "SIGKILL");
    for (let i = 0; i < 200; i++) {
      if ((await listGroupMembers(record.pid)).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    log.info("Killed process group {pid} left by a previous run", { pid: record.pid });
    return true;
  }
}
