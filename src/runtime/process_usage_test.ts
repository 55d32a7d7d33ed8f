import { deepEqual, equal, ok } from "node:assert/strict";
import {
  cgroupCpuSeconds,
  cgroupMemoryBytes,
  cgroupUsageFiles,
  parseProcUsage,
  type ProcUsage,
  usageOfTrees,
} from "./process_usage.ts";

/** Fields 3–24 of a stat line: ppid 1, pgid 7, utime 11, stime 22, cutime 3, cstime 4, rss 9. */
const TAIL = "S 1 7 7 0 -1 4194560 100 0 0 0 11 22 3 4 20 0 1 0 5000 123456 9 18446744073709551615";

Deno.test("parseProcUsage() counts fields from the last ')' whatever the command name holds", async (t) => {
  const hostile = [
    "app",
    "a b c",
    ") S 1 2 3 4",
    "x) (y",
    "((((",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
  ];
  for (const comm of hostile) {
    await t.step(JSON.stringify(comm), () => {
      deepEqual(parseProcUsage(`4242 (${comm}) ${TAIL}`), {
        pid: 4242,
        ppid: 1,
        pgid: 7,
        cpuTicks: 40,
        rssPages: 9,
      });
    });
  }
});

Deno.test("parseProcUsage() rejects truncated or garbled lines", () => {
  equal(parseProcUsage(""), undefined);
  equal(parseProcUsage("12 (app S 1 2"), undefined);
  equal(parseProcUsage("12 (app) S 1 2 3"), undefined);
  equal(parseProcUsage(`x (app) ${TAIL}`), undefined);
});

Deno.test("parseProcUsage() reads this very process from the real /proc", () => {
  const usage = parseProcUsage(Deno.readTextFileSync("/proc/self/stat"));
  equal(usage?.pid, Deno.pid);
  ok((usage?.rssPages ?? 0) > 0);
  ok((usage?.cpuTicks ?? -1) >= 0);
});

Deno.test("usageOfTrees() sums a group and its descendants once, and nothing of other groups", () => {
  const proc = (pid: number, ppid: number, pgid: number, ticks = 100): ProcUsage => ({
    pid,
    ppid,
    pgid,
    cpuTicks: ticks,
    rssPages: 1,
  });
  const procs = [
    proc(10, 1, 10), // alice's leader
    proc(11, 10, 10), // in alice's group
    proc(12, 11, 12), // a sandboxed child in a session of its own
    proc(13, 12, 12), // its child
    proc(14, 1, 10), // reparented to init, still in alice's group
    proc(20, 1, 20, 7), // bob
  ];
  const usage = usageOfTrees(procs, [{ key: "alice", pid: 10 }, { key: "bob", pid: 20 }, {
    key: "gone",
    pid: 30,
  }]);
  deepEqual(usage.get("alice"), { rssBytes: 5 * 4096, cpuSeconds: 5 });
  deepEqual(usage.get("bob"), { rssBytes: 4096, cpuSeconds: 0.07 });
  equal(usage.get("gone"), undefined);
});

Deno.test("cgroup accounting files and their parsing, v1 and v2", () => {
  deepEqual(cgroupUsageFiles("v1", "/sys/fs/cgroup", "app", "a"), {
    memory: "/sys/fs/cgroup/memory/tenement/app.a/memory.stat",
    cpu: "/sys/fs/cgroup/cpu/tenement/app.a/cpuacct.usage",
  });
  equal(cgroupMemoryBytes("v2", "max\n"), undefined);
  equal(cgroupMemoryBytes("v2", ""), undefined);
  equal(cgroupMemoryBytes("v1", "cache 1\n"), undefined);
  equal(cgroupCpuSeconds("v2", "user_usec 3\n"), undefined);
  equal(cgroupCpuSeconds("v1", ""), undefined);
});
