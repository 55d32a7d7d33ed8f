/**
 * The cgroup edge: cgroup v2 against a fake cgroup tree of real files in a temp dir (the test
 * machine runs v1), and v1 against the machine's own cgroups (root needed; skipped otherwise).
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { parseConfig } from "../config/parse_config.ts";
import type { ServiceConfig } from "../config/schema.ts";
import { SpawnError } from "../core/errors.ts";
import { Cgroups } from "./cgroups.ts";
import { GroupLauncher } from "./process_group.ts";
import { readProcStat } from "./proc_stat.ts";

/** True when `pid` exists and is not a zombie. */
async function isAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

function serviceWith(keys: string): ServiceConfig {
  const config = parseConfig(`[service.app]\ncommand = "./app"\n${keys}\n`, {
    path: "/srv/tenement.toml",
  });
  return config.services.get("app")!;
}

const LIMITS = "memory_limit_mb = 64\ncpu_shares = 512\npids_limit = 20";

async function fakeV2Root(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "ten-cgroup-v2-" });
  await Deno.writeTextFile(`${root}/cgroup.controllers`, "cpu memory pids\n");
  return root;
}

Deno.test("cgroup v2: limits, controllers and the join file are written under tenement/", async () => {
  const root = await fakeV2Root();
  try {
    const cgroups = new Cgroups({ root });
    equal(await cgroups.detect(), "v2");
    const cgroup = await cgroups.create(serviceWith(LIMITS), "a");
    ok(cgroup !== undefined);
    const leaf = `${root}/tenement/app.a`;
    deepEqual(cgroup.procsFiles, [`${leaf}/cgroup.procs`]);
    const read = (path: string) => Deno.readTextFile(path);
    equal(await read(`${root}/cgroup.subtree_control`), "+memory +cpu +pids");
    equal(await read(`${root}/tenement/cgroup.subtree_control`), "+memory +cpu +pids");
    equal(await read(`${leaf}/memory.max`), String(64 * 1048576));
    equal(await read(`${leaf}/cpu.weight`), "50");
    equal(await read(`${leaf}/pids.max`), "20");
    // memory.swap.max exists only with swap accounting: absent here, so not written.
    await rejects(Deno.stat(`${leaf}/memory.swap.max`));
    equal(await cgroup.oomKills(), 0);
    await Deno.writeTextFile(`${leaf}/memory.events`, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    equal(await cgroup.oomKills(), 1);
    equal(cgroup.memoryLimitMb, 64);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cgroup v2: only the controllers of configured limits; none configured, no cgroup", async () => {
  const root = await fakeV2Root();
  try {
    const cgroups = new Cgroups({ root });
    equal(await cgroups.create(serviceWith("memory_limit_mb = 0"), "a"), undefined);
    await rejects(Deno.stat(`${root}/tenement`));
    await cgroups.create(serviceWith("pids_limit = 5"), "b");
    equal(await Deno.readTextFile(`${root}/tenement/cgroup.subtree_control`), "+pids");
    await rejects(Deno.stat(`${root}/tenement/app.b/memory.max`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cgroup v2: leftovers at start: empty ones removed, busy unknown ones kept", async () => {
  const root = await fakeV2Root();
  try {
    await Deno.mkdir(`${root}/tenement/app.old`, { recursive: true });
    await Deno.mkdir(`${root}/tenement/other.x`);
    await Deno.writeTextFile(`${root}/tenement/other.x/cgroup.procs`, `${Deno.pid}\n`);
    await new Cgroups({ root }).removeLeftovers([{ service: "app", id: "old" }]);
    await rejects(Deno.stat(`${root}/tenement/app.old`));
    ok((await Deno.stat(`${root}/tenement/other.x`)).isDirectory, "an unknown busy cgroup stays");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("limits without a usable cgroup fail with the path and the fix", async () => {
  const root = await Deno.makeTempDir({ prefix: "ten-no-cgroup-" });
  try {
    await rejects(new Cgroups({ root }).create(serviceWith(LIMITS), "a"), (err: unknown) => {
      ok(err instanceof SpawnError);
      ok(err.message.includes(`no cgroup file system at ${root}`), err.message);
      ok(err.message.includes("cgroup_root"), err.message);
      return true;
    });
    // Without limits nothing is needed.
    equal(await new Cgroups({ root }).create(serviceWith(""), "a"), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const V1 = "/sys/fs/cgroup";
const hasV1 = await Deno.stat(`${V1}/memory/cgroup.procs`).then(() => true, () => false) &&
  await Deno.stat(`${V1}/cgroup.controllers`).then(() => false, () => true);
const canWriteV1 = hasV1 && Deno.uid() === 0;
if (!canWriteV1) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "cgroups_test: v1 test skipped: needs root and cgroup v1 at /sys/fs/cgroup\n",
    ),
  );
}

Deno.test({
  name:
    "cgroup v1: the process is in its cgroups from the start, limits hold, destroy kills escapees",
  ignore: !canWriteV1,
  fn: async () => {
    const cgroups = new Cgroups();
    const id = `unit${Deno.pid}`;
    const cgroup = await cgroups.create(serviceWith(LIMITS), id);
    ok(cgroup !== undefined);
    const leaf = (c: string) => `${V1}/${c}/tenement/app.${id}`;
    try {
      equal(
        (await Deno.readTextFile(`${leaf("memory")}/memory.limit_in_bytes`)).trim(),
        "67108864",
      );
      equal((await Deno.readTextFile(`${leaf("cpu")}/cpu.shares`)).trim(), "512");
      equal((await Deno.readTextFile(`${leaf("pids")}/pids.max`)).trim(), "20");
      const handle = await new GroupLauncher().launch({
        argv: ["/bin/sh", "-c", "setsid sleep 300 & exec sleep 300"],
        env: { PATH: "/usr/bin:/bin" },
        cwd: "/",
        isolation: "process",
        cgroupProcs: cgroup.procsFiles,
        onLine: () => {},
      });
      const procs = async () =>
        (await Deno.readTextFile(`${leaf("pids")}/cgroup.procs`)).trim().split("\n").filter(
          (l) => l !== "",
        );
      for (let i = 0; i < 100 && (await procs()).length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const members = (await procs()).map(Number);
      ok(members.includes(handle.pid), `pid ${handle.pid} not in ${members}`);
      const escaped = members.find((pid) => pid !== handle.pid);
      ok(escaped !== undefined, "the setsid child is in the cgroup too");
      const cgroupLine = (await Deno.readTextFile(`/proc/${handle.pid}/cgroup`)).split("\n")
        .find((line) => line.includes(":memory:"));
      equal(cgroupLine?.split(":")[2], `/tenement/app.${id}`);
      // As the supervisor's cgroup handle does: the group stops, then the escapee is killed.
      const stopping = handle.stop(1_000);
      await cgroup.killEscapees(handle.pid, 5_000);
      await stopping;
      equal(await isAlive(escaped), false);
      await cgroup.destroy();
      for (const c of ["memory", "cpu", "pids"]) await rejects(Deno.stat(leaf(c)));
    } finally {
      await cgroup.destroy();
    }
  },
});

Deno.test({
  name: "cgroup v1: a restart waits for the previous run's cgroup to go before making its own",
  ignore: !canWriteV1,
  fn: async () => {
    const cgroups = new Cgroups();
    const id = `reuse${Deno.pid}`;
    const service = serviceWith("pids_limit = 10");
    const first = await cgroups.create(service, id);
    ok(first !== undefined);
    const sleeper = await new GroupLauncher().launch({
      argv: ["/bin/sleep", "300"],
      env: {},
      cwd: "/",
      isolation: "process",
      cgroupProcs: first.procsFiles,
      onLine: () => {},
    });
    // The previous run's clean-up is still going when the restart asks for the same cgroup.
    const removing = (async () => {
      await first.killEscapees(sleeper.pid, 300);
      await sleeper.killRemnants();
      // Slower than the restart's own set-up: without the wait, this would remove the new cgroup.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await first.destroy();
    })();
    const second = await cgroups.create(service, id);
    ok(second !== undefined);
    await removing;
    try {
      equal((await Deno.readTextFile(`${V1}/pids/tenement/app.${id}/pids.max`)).trim(), "10");
    } finally {
      await second.destroy();
    }
  },
});
