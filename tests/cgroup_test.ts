/**
 * Integration tests of cgroup limits (issue 13, "Limits"): a real `ten serve` as root puts each
 * limited instance in its cgroup before the app runs, reports OOM kills, stops fork bombs at
 * `pids_limit`, removes the cgroup with the instance (escaped children too) and refuses to run
 * limits it cannot apply. The app is `inside_probe.py`, which reports from inside.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  FIXTURES,
  isAlive,
  rawRequest,
  serviceBlock,
  type ServiceKeys,
  settingsBlock,
  startDaemon,
  waitFor,
} from "../testkit/mod.ts";
import type { InstanceJson } from "../src/api/wire.ts";

const CGROUP = "/sys/fs/cgroup";
const PROBE = `/usr/bin/python3 ${FIXTURES}/inside_probe.py`;

/** Why the tests cannot run here, or undefined when they can. */
async function unavailable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "needs root to create cgroups";
  const isV2 = await Deno.stat(`${CGROUP}/cgroup.controllers`).then(() => true, () => false);
  if (isV2) return undefined;
  for (const c of ["memory", "cpu", "pids"]) {
    if (!await Deno.stat(`${CGROUP}/${c}/cgroup.procs`).then(() => true, () => false)) {
      return `cgroup v1 controller ${c} is not mounted at ${CGROUP}/${c}`;
    }
  }
  return undefined;
}
const skipReason = await unavailable();
if (skipReason !== undefined) {
  Deno.stderr.writeSync(new TextEncoder().encode(`cgroup_test skipped: ${skipReason}\n`));
}
const isV2 = await Deno.stat(`${CGROUP}/cgroup.controllers`).then(() => true, () => false);

/** The instance's cgroup directory for `controller` (one directory on v2). */
function leafOf(controller: string, service: string, id: string): string {
  return isV2
    ? `${CGROUP}/tenement/${service}.${id}`
    : `${CGROUP}/${controller}/tenement/${service}.${id}`;
}

const probe = (keys: ServiceKeys): ServiceKeys => ({ command: PROBE, health: "/health", ...keys });

async function psAll(d: { ten(args: readonly string[]): Promise<{ stdout: string }> }) {
  return JSON.parse((await d.ten(["ps", "--all", "--json"])).stdout) as InstanceJson[];
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** `tenement_oom_kills_total` of `service:id` in the daemon's /metrics, 0 when absent. */
async function oomKillsOf(d: { metrics(): Promise<string> }, service: string, id: string) {
  const line = (await d.metrics()).split("\n").find((l) =>
    l.startsWith("tenement_oom_kills_total{") && l.includes(`instance="${id}"`) &&
    l.includes(`process="${service}"`)
  );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

Deno.test({
  name: "a memory hog is OOM-killed at memory_limit_mb, reported, counted and restarted",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using d = await startDaemon({
      config: settingsBlock({ backoff_base_ms: 5000, backoff_max_ms: 10000 }) +
        serviceBlock("mem", probe({ memory_limit_mb: 64, restart: "on-failure" })),
    });
    /** Makes the running instance allocate 300 MiB, straight to its port (the proxy would
     * resend the GET to the restarted instance); returns the pid it had. */
    const hog = async (): Promise<number> => {
      const { port, pid } = await d.running("mem:a");
      await rawRequest(port!, "localhost", "/hog?mb=300", { timeoutMs: 20_000 }).catch(() => {});
      return pid!;
    };
    await apiSpawn(d, "mem", "a");
    // A first crash is restarted at once (restart = "on-failure").
    const first = await hog();
    await waitFor(async () => await oomKillsOf(d, "mem", "a") === 1, { what: "one OOM kill" });
    const again = await d.untilInstance(
      "mem:a",
      (r) => r.status === "running" && r.restarts === 1,
    );
    ok(again.pid !== first);
    // A second one waits out its backoff, showing why.
    const second = await hog();
    const row = await waitFor(async () => {
      const found = (await psAll(d)).find((r) => r.id === "mem:a");
      return found?.reason?.includes("out of memory") ? found : undefined;
    }, { what: "the out-of-memory reason in ten ps --all --json", timeoutMs: 20_000 });
    equal(row.reason, "out of memory (memory_limit_mb = 64)");
    equal(row.status, "backoff");
    equal(await isAlive(second), false);
    const human = (await d.ten(["ps", "--all"])).stdout;
    ok(human.includes("out of memory (memory_limit_mb = 64)"), human);
    const logs = await d.api("GET", "/api/logs?process=mem&id=a");
    equal(logs.body.split("tenement: out of memory").length - 1, 2, logs.body);
    equal(await oomKillsOf(d, "mem", "a"), 2);
    await d.untilInstance("mem:a", (r) => r.status === "running" && r.restarts === 2, {
      timeoutMs: 20_000,
    });
  },
});

Deno.test({
  name:
    "a limited instance's memory is read from its cgroup: what it holds shows in /metrics and /api/instances",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using d = await startDaemon({
      config: settingsBlock() + serviceBlock("mem", probe({ memory_limit_mb: 128 })),
    });
    await apiSpawn(d, "mem", "a");
    const { port } = await d.running("mem:a");
    const hog = await rawRequest(port!, "localhost", "/hog?mb=60", { timeoutMs: 20_000 });
    equal(hog.status, 200, hog.body);
    // What the cgroup is charged, as the kernel says (v1: memory.stat total_rss).
    const charged = async (): Promise<number> => {
      const file = isV2 ? "memory.current" : "memory.stat";
      const text = await Deno.readTextFile(`${leafOf("memory", "mem", "a")}/${file}`);
      return isV2 ? Number(text) : Number(/^total_rss (\d+)$/m.exec(text)?.[1]);
    };
    ok(await charged() >= 60 * 1048576, "the cgroup holds the 60 MiB");
    const row = await d.untilInstance("mem:a", (r) => (r.rss_bytes ?? 0) >= 60 * 1048576, {
      what: "rss_bytes of mem:a at 60 MiB or more",
      timeoutMs: 15_000,
    });
    ok(row.rss_bytes! <= 128 * 1048576, `rss ${row.rss_bytes} within the limit`);
    const metrics = await d.metrics();
    const line = metrics.split("\n").find((l) =>
      l.startsWith('tenement_instance_resident_memory_bytes{instance="a",process="mem"} ')
    );
    ok(line !== undefined && Number(line.split(" ")[1]) >= 60 * 1048576, metrics);
  },
});

Deno.test({
  name: "a fork bomb stops at pids_limit",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using d = await startDaemon({
      config: settingsBlock() + serviceBlock("bomb", probe({ pids_limit: 20 })),
    });
    await apiSpawn(d, "bomb", "a");
    const res = await d.request("a.bomb.localhost", "/fork?n=200", { timeoutMs: 20_000 });
    const body = JSON.parse(res.body) as { forked: number; error: string };
    ok(body.forked < 20, `forked ${body.forked}`);
    ok(/EAGAIN|Resource temporarily unavailable|BlockingIOError/.test(body.error), body.error);
    equal((await Deno.readTextFile(`${leafOf("pids", "bomb", "a")}/pids.max`)).trim(), "20");
  },
});

Deno.test({
  name:
    "the app is in its cgroup from the start with the limits set; ten stop removes it, escapees too",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using d = await startDaemon({
      config: settingsBlock() +
        serviceBlock("lim", {
          command: "/bin/sh",
          // A child that leaves the process group (setsid) before the app starts.
          args: ["-c", `setsid sleep 300 & exec ${PROBE}`],
          health: "/health",
          memory_limit_mb: 128,
          cpu_shares: 512,
          pids_limit: 50,
        }),
    });
    const pid = await apiSpawn(d, "lim", "a");
    const cgroupOf = await Deno.readTextFile(`/proc/${pid}/cgroup`);
    if (isV2) ok(cgroupOf.includes("0::/tenement/lim.a"), cgroupOf);
    else {
      for (const c of ["memory", "cpu", "pids"]) {
        ok(new RegExp(`:${c}(,[a-z_]+)*:/tenement/lim\\.a$`, "m").test(cgroupOf), cgroupOf);
      }
    }
    const read = (c: string, file: string) =>
      Deno.readTextFile(`${leafOf(c, "lim", "a")}/${file}`).then((text) => text.trim());
    if (isV2) {
      equal(await read("memory", "memory.max"), String(128 * 1048576));
      equal(await read("cpu", "cpu.weight"), "50");
    } else {
      equal(await read("memory", "memory.limit_in_bytes"), String(128 * 1048576));
      equal(await read("cpu", "cpu.shares"), "512");
    }
    equal(await read("pids", "pids.max"), "50");
    const members = (await read("pids", "cgroup.procs")).split("\n").map(Number);
    const escaped = members.find((member) => member !== pid);
    ok(escaped !== undefined, `only ${members} in the cgroup`);
    ok(await isAlive(escaped));

    const stopped = await d.ten(["stop", "lim:a"]);
    equal(stopped.code, 0, stopped.stderr);
    equal(await isAlive(escaped), false, "the setsid child outlived its instance");
    for (const c of ["memory", "cpu", "pids"]) {
      equal(await exists(leafOf(c, "lim", "a")), false, `${leafOf(c, "lim", "a")} is left`);
    }
  },
});

Deno.test({
  name: "limits with an unusable cgroup_root fail the spawn with the path and the fix",
  ignore: skipReason !== undefined,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "ten-no-cgroup-" });
    try {
      await using d = await startDaemon({
        config: settingsBlock({ cgroup_root: root }) +
          serviceBlock("lim", probe({ memory_limit_mb: 64 })),
      });
      const res = await d.api("POST", "/api/instances/spawn", { process: "lim", id: "a" });
      ok(res.status >= 400, `${res.status} ${res.body}`);
      ok(res.body.includes(`no cgroup file system at ${root}`), res.body);
      ok(res.body.includes("cgroup_root"), res.body);
      const row = (await psAll(d)).find((r) => r.id === "lim:a");
      equal(row?.pid ?? null, null, "nothing runs");
      deepEqual(await Array.fromAsync(Deno.readDir(root)), [], "nothing was created");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "a restarted daemon removes the cgroups its predecessor left, killing escaped children",
  ignore: skipReason !== undefined,
  fn: async () => {
    const config = settingsBlock() +
      serviceBlock("lim", {
        command: "/bin/sh",
        args: ["-c", `setsid sleep 300 & exec ${PROBE}`],
        health: "/health",
        pids_limit: 50,
      });
    const stale = `${isV2 ? CGROUP : `${CGROUP}/pids`}/tenement/gone.stale`;
    await Deno.mkdir(stale, { recursive: true });
    await using d = await startDaemon({ config });
    const pid = await apiSpawn(d, "lim", "a");
    const leaf = leafOf("pids", "lim", "a");
    const members = (await Deno.readTextFile(`${leaf}/cgroup.procs`)).trim().split("\n")
      .map(Number);
    const escaped = members.find((member) => member !== pid)!;
    ok(escaped !== undefined);
    await d.kill9();
    await d.start();
    // The orphan reaper kills the old group; the cgroup step kills the escapee and removes the
    // cgroup (the instance, desired running, then starts again in a fresh one).
    await waitFor(async () => !await isAlive(escaped), {
      what: "the escaped child of the previous run gone",
      timeoutMs: 10_000,
    }).catch((err: unknown) => {
      throw new Error(`${err}\n${d.stderr}`);
    });
    equal(await exists(stale), false, "an empty leftover cgroup is removed");
    equal(await isAlive(pid), false);
  },
});
