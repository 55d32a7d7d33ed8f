/**
 * Reads process facts from Linux `/proc`: start time (for pid-reuse guards), process group, and
 * the members of a process group.
 * @module
 */

/** Fields of `/proc/<pid>/stat` tenement uses. */
export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  /** Start time in clock ticks after boot (field 22). */
  readonly startTicks: number;
}

/** Parses the text of `/proc/<pid>/stat`; the command name may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); field N is fields[N - 3].
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const startTicks = Number(fields[19]);
  if (state === undefined || !Number.isFinite(pid) || !Number.isFinite(startTicks)) {
    return undefined;
  }
  return { pid, state, ppid, pgid, startTicks };
}

/** Reads `/proc/<pid>/stat`, or undefined when the process does not exist. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/**
 * Synchronous `/proc/<pid>/stat` read: procfs answers from memory in microseconds, while the async
 * file API costs a thread-pool round trip (~1 ms) on the wake path.
 */
export function readProcStatNow(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** Pids of every live (non-zombie) process whose process group is `pgid`. */
export async function listGroupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!entry.isDirectory || !/^\d+$/.test(entry.name)) continue;
    const stat = await readProcStat(Number(entry.name));
    if (stat && stat.pgid === pgid && stat.state !== "Z") members.push(stat.pid);
  }
  return members;
}

/** The id of the current boot, so records from an earlier boot are never acted on. */
export function readBootId(): string | undefined {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return undefined;
  }
}

/**
 * Pids of every live process below `rootPid` (children, their children, …), found through the
 * parent pids in `/proc`: a sandbox's app runs in its own session and process group, out of
 * reach of a signal to the launcher's group.
 */
export async function listDescendants(rootPid: number): Promise<ProcStat[]> {
  const byParent = new Map<number, ProcStat[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!entry.isDirectory || !/^\d+$/.test(entry.name)) continue;
    const stat = await readProcStat(Number(entry.name));
    if (stat === undefined || stat.state === "Z") continue;
    const siblings = byParent.get(stat.ppid) ?? [];
    siblings.push(stat);
    byParent.set(stat.ppid, siblings);
  }
  const found: ProcStat[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}
