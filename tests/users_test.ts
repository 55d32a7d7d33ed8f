/**
 * Integration tests of instances under users of their own (issue 13): with a root daemon and
 * `default_user = "auto"` each tenant runs as its own uid, owns its data dir, and cannot reach
 * tenement's private directory, another tenant's data or process; the uid survives restarts; a
 * program its user cannot reach fails at spawn naming the path; and a data dir in the layout of
 * earlier versions is moved into `.tenement/` without losing tokens or instances. A real
 * `ten serve` with tests/fixtures/inside_probe.py.
 * @module
 */
import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import {
  type Daemon,
  EXAMPLES,
  FIXTURES,
  PYTHON,
  runTen,
  serviceBlock,
  settingsBlock,
  startDaemon,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

const isRoot = Deno.uid() === 0;
const RANGE = { start: 61184, end: 65519 };

interface Whoami {
  readonly uid: number;
  readonly gid: number;
  readonly groups: number[];
  readonly home: string;
  readonly pid: number;
  readonly env: Record<string, string>;
}

interface Can {
  readonly ok: boolean;
  readonly error: string;
}

/** The probe service: it reports what it can reach from inside. */
function probeService(keys: Record<string, string> = {}): string {
  return serviceBlock("probe", {
    command: `${PYTHON} ${FIXTURES}/inside_probe.py`,
    health: "/health",
    ...keys,
  });
}

async function whoami(d: Daemon, id: string): Promise<Whoami> {
  const res = await d.request(`${id}.probe.localhost`, "/whoami");
  equal(res.status, 200, res.body);
  return JSON.parse(res.body) as Whoami;
}

async function can(d: Daemon, id: string, query: string): Promise<Can> {
  const res = await d.request(`${id}.probe.localhost`, `/can?${query}`);
  equal(res.status, 200, res.body);
  return JSON.parse(res.body) as Can;
}

/** A temp dir other users may enter (Deno makes them 0700), so a data dir inside is usable. */
async function openTempDir(): Promise<{ path: string } & AsyncDisposable> {
  const tmp = await tempDir();
  await Deno.chmod(tmp.path, 0o755);
  return tmp;
}

/** A service whose app leaves a `setsid` child behind, outside its process group. */
const LEAKY = serviceBlock("leaky", {
  command: "/bin/sh",
  args: [
    "-c",
    'setsid sleep 600 </dev/null >/dev/null 2>&1 & exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1',
  ],
  storage_persist: true,
});

function modeOf(info: Deno.FileInfo): number {
  return (info.mode ?? 0) & 0o7777;
}

Deno.test({
  name:
    'default_user = "auto": each tenant has its own uid, home and data dir, and cannot reach tenement or the other tenant',
  ignore: !isRoot,
  async fn(t) {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock({ default_user: "auto" }) + probeService(),
      serveEnv: { TENEMENT_LOG: "debug", TENEMENT_SECRET: "admin-secret" },
    });
    const alice = await whoami(d, "alice");
    const bob = await whoami(d, "bob");
    const state = `${d.dataDir}/.tenement`;

    await t.step("distinct uids in the range, gid = uid, no other groups", () => {
      notEqual(alice.uid, bob.uid);
      for (const who of [alice, bob]) {
        ok(who.uid >= RANGE.start && who.uid <= RANGE.end, `uid ${who.uid}`);
        equal(who.gid, who.uid);
        deepEqual(who.groups.filter((g) => g !== who.gid), []);
      }
    });

    await t.step("HOME is the instance's data dir, owned by it with mode 0700", async () => {
      for (const [id, who] of [["alice", alice], ["bob", bob]] as const) {
        const dir = `${d.dataDir}/probe/${id}`;
        equal(who.home, dir);
        const info = await Deno.stat(dir);
        equal(info.uid, who.uid);
        equal(info.gid, who.gid);
        equal(modeOf(info), 0o700);
      }
      equal(modeOf(await Deno.stat(d.dataDir)), 0o711);
      equal(modeOf(await Deno.stat(`${d.dataDir}/probe`)), 0o711);
      equal(modeOf(await Deno.stat(state)), 0o700);
      // Once the app listens, its socket dir is taken back (root, 0700): nothing in it can be
      // swapped for a link the root proxy would follow; the socket stays the app's.
      const socketDir = await Deno.stat(`${d.dataDir}/run/probe.alice`);
      equal(socketDir.uid, 0);
      equal(modeOf(socketDir), 0o700);
      equal((await Deno.lstat(`${d.dataDir}/run/probe.alice/app.sock`)).uid, alice.uid);
      equal(modeOf(await Deno.stat(`${d.dataDir}/run`)), 0o711);
    });

    await t.step(
      "alice writes her own dir and reads none of tenement's files or bob's",
      async () => {
        ok((await can(d, "alice", `write=${d.dataDir}/probe/alice/mine`)).ok);
        await Deno.writeTextFile(`${d.dataDir}/probe/bob/notes.db`, "bob's");
        for (
          const path of [
            `${state}/api_token`,
            `${state}/tenement.kv`,
            `${d.dataDir}/probe/bob/notes.db`,
          ]
        ) {
          const answer = await can(d, "alice", `read=${encodeURIComponent(path)}`);
          equal(answer.ok, false, `alice read ${path}`);
          match(answer.error, /PermissionError/);
        }
        equal((await can(d, "alice", `list=${encodeURIComponent(d.dataDir)}`)).ok, false);
        equal((await can(d, "alice", `connect_unix=${state}/api.sock`)).ok, false);
        equal((await can(d, "alice", `signal=${bob.pid}`)).ok, false);
        // The probe itself can signal its own process: the refusal above is about bob.
        ok((await can(d, "alice", `signal=${alice.pid}`)).ok);
      },
    );

    await t.step("no TENEMENT_* variable inside", () => {
      deepEqual(Object.keys(alice.env).filter((name) => name.startsWith("TENEMENT_")), []);
    });

    await t.step("the uid is kept across ten restart and a daemon restart", async () => {
      const restarted = await d.ten(["restart", "probe:alice"]);
      equal(restarted.code, 0, restarted.stderr);
      equal((await whoami(d, "alice")).uid, alice.uid);
      await d.stop();
      await d.start();
      equal((await whoami(d, "alice")).uid, alice.uid);
      equal((await whoami(d, "bob")).uid, bob.uid);
      // The data kept from before is still its own.
      ok((await can(d, "bob", `read=${d.dataDir}/probe/bob/notes.db`)).ok);
    });

    await t.step("ten rm keeps the uid with the data; ten rm --purge frees it", async () => {
      const uidsHeld = async (): Promise<Map<string, number>> => {
        using kv = await Deno.openKv(`${state}/tenement.kv`);
        const held = new Map<string, number>();
        for await (const e of kv.list<{ uid: number }>({ prefix: ["uids_by_instance"] })) {
          held.set(`${String(e.key[1])}:${String(e.key[2])}`, e.value.uid);
        }
        return held;
      };
      equal((await uidsHeld()).get("probe:alice"), alice.uid);
      equal((await d.ten(["stop", "probe:alice"])).code, 0);
      equal((await d.ten(["rm", "probe:alice"])).code, 0);
      equal((await uidsHeld()).get("probe:alice"), alice.uid);
      equal((await d.ten(["stop", "probe:bob"])).code, 0);
      const purged = await d.ten(["rm", "--purge", "--yes", "probe:bob"]);
      equal(purged.code, 0, purged.stderr);
      equal((await uidsHeld()).get("probe:bob"), undefined);
      // Its socket dir goes with its data; alice's (plain rm) stays.
      await Deno.stat(`${d.dataDir}/run/probe.bob`).then(() => ok(false, "kept"), () => {});
      await Deno.stat(`${d.dataDir}/run/probe.alice`);
    });
  },
});

Deno.test({
  name: "a program under a directory the instance's user cannot enter fails at spawn, naming it",
  ignore: !isRoot,
  async fn() {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    const hidden = `${tmp.path}/private`;
    await Deno.mkdir(hidden, { mode: 0o700 });
    await Deno.chmod(hidden, 0o700);
    await Deno.copyFile(`${FIXTURES}/inside_probe.py`, `${hidden}/app.py`);
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock() +
        serviceBlock("notes", { command: `${PYTHON} ${hidden}/app.py`, user: "auto" }),
    });
    const res = await d.ten(["spawn", "notes:alice"]);
    notEqual(res.code, 0, res.stdout);
    ok(
      res.stderr.includes(
        `notes:alice runs as uid `,
      ) &&
        res.stderr.includes(
          `(user = "auto"), which cannot reach ${hidden}/app.py: ${hidden} is mode 0700`,
        ),
      res.stderr,
    );
    match(res.stderr, /Move the app under \/srv or \/opt/);
  },
});

Deno.test({
  name:
    "a data dir in the earlier layout moves into .tenement/: tokens still authenticate, instances still listed",
  async fn() {
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock() + probeService(),
    });
    await whoami(d, "alice");
    const tenant = await d.tenantToken("probe:alice");
    await d.stop();
    // Put everything back where earlier versions kept it: the top of the data dir.
    const state = `${d.dataDir}/.tenement`;
    for await (const e of Deno.readDir(state)) {
      if (e.name === "ten.lock" || e.name === "api.sock") continue;
      await Deno.rename(`${state}/${e.name}`, `${d.dataDir}/${e.name}`);
    }
    await Deno.mkdir(`${d.dataDir}/acme/account`, { recursive: true });
    await Deno.writeTextFile(`${d.dataDir}/acme/account/key.pem`, "key");
    await Deno.remove(state, { recursive: true });

    await d.start();
    for (const name of ["tenement.kv", "api_token", "acme"]) {
      match(d.stderr, new RegExp(`Moved ${d.dataDir}/${name} to ${state}/${name}`));
    }
    equal(await Deno.readTextFile(`${state}/acme/account/key.pem`), "key");
    const top = [];
    for await (const e of Deno.readDir(d.dataDir)) top.push(e.name);
    deepEqual(
      top.filter((n) => n.startsWith("tenement.kv") || n === "api_token" || n === "acme"),
      [],
    );
    const ps = await d.ten(["ps", "--all"]);
    equal(ps.code, 0, ps.stderr);
    match(ps.stdout, /probe:alice|alice/);
    equal((await d.apiAs(tenant, "GET", "/api/instances")).status, 200);
  },
});

Deno.test({
  name: "the API token file is found in the earlier place while the daemon was not restarted",
  async fn() {
    await using d = await startDaemon({ config: settingsBlock() + probeService() });
    await Deno.rename(`${d.dataDir}/.tenement/api_token`, `${d.dataDir}/api_token`);
    const ps = await d.ten(["ps"]);
    equal(ps.code, 0, ps.stderr);
  },
});

Deno.test({
  name: 'the bundled examples (Python, Node, Go) run with user = "auto" and a system PATH',
  ignore: !isRoot,
  async fn() {
    await using tmp = await openTempDir();
    const copied = await new Deno.Command("cp", { args: ["-a", `${EXAMPLES}/.`, tmp.path] })
      .output();
    ok(copied.success);
    await Deno.remove(`${tmp.path}/tenement-data`, { recursive: true }).catch(() => {});
    const text = (await Deno.readTextFile(`${tmp.path}/tenement.toml`))
      .replace("health_check_interval = 10", 'health_check_interval = 1\ndefault_user = "auto"')
      .replace(/\n\[instances\]\n[\s\S]*$/, "\n");
    // A system PATH, as under systemd: a pyenv or nvm toolchain in /root is out of the
    // instances' reach (the spawn error says so; see the reachability test above).
    await using d = await startDaemon({
      dir: tmp.path,
      config: text,
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    const uids = new Set<number>();
    for (const service of ["notes", "node", "go"]) {
      const spawned = await d.ten(["spawn", `${service}:alice`]);
      equal(spawned.code, 0, spawned.stderr);
      const res = await d.request(`alice.${service}.localhost`, "/");
      equal(res.status, 200, `${service}: ${res.body}`);
      const dir = await Deno.stat(`${tmp.path}/tenement-data/${service}/alice`);
      ok(dir.uid !== null && dir.uid >= RANGE.start && dir.uid <= RANGE.end, `${dir.uid}`);
      uids.add(dir.uid);
    }
    equal(uids.size, 3);
  },
});

Deno.test("ten config warns about a named user this machine lacks, and shows each service's user", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.path}/tenement.toml`,
    '[settings]\ndefault_user = "auto"\n[service.a]\ncommand = "x"\n[service.b]\ncommand = "x"\nuser = "no-such-user-here"\n[service.c]\ncommand = "x"\nuser = "root"\n',
  );
  const res = await runTen(["--config", `${tmp.path}/tenement.toml`, "config"], { cwd: tmp.path });
  equal(res.code, 0, res.stderr);
  match(
    res.stderr,
    /service "b" runs as user = "no-such-user-here", which is not a user of this machine/,
  );
  ok(!res.stderr.includes('service "c"'), res.stderr);
  match(res.stdout, /\[a\]\n(.*\n)*? {4}user: auto\n/);
});

Deno.test({
  name:
    "a tenant that puts a link to another socket at its SOCKET_PATH does not get the proxy to connect through it",
  ignore: !isRoot,
  async fn() {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    // A socket only root may reach (like /var/run/docker.sock): its dir is 0700 root.
    const secretDir = `${tmp.path}/secret`;
    await Deno.mkdir(secretDir, { mode: 0o700 });
    await Deno.chmod(secretDir, 0o700);
    const secretSocket = `${secretDir}/root-only.sock`;
    await using _secret = Deno.serve(
      { path: secretSocket, onListen: () => {} },
      () => new Response("root-only service"),
    );
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock({ default_user: "auto" }) + serviceBlock("evil", {
        command: "/bin/sh",
        args: [
          "-c",
          `ln -s ${secretSocket} "$SOCKET_PATH" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1`,
        ],
      }),
    });
    const res = await d.request("mallory.evil.localhost", "/");
    equal(res.status, 200, res.body);
    ok(!res.body.includes("root-only service"), res.body);
    ok(res.body.includes("Directory listing"), res.body);
  },
});

/** Pids of live (not zombie) processes whose real, effective, saved or fs uid is `uid`. */
async function livePidsOf(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/).map(Number) ?? [];
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      if (state !== "Z" && uids.includes(uid)) pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

Deno.test({
  name:
    "ten rm --purge ends the processes left under the freed uid, so no later tenant given it meets them",
  ignore: !isRoot,
  async fn() {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock({ default_user: "auto" }) + LEAKY,
    });
    const res = await d.request("alice.leaky.localhost", "/");
    equal(res.status, 200, res.body);
    const uid = (await Deno.stat(`${d.dataDir}/leaky/alice`)).uid!;
    const stopped = await d.ten(["stop", "leaky:alice"]);
    equal(stopped.code, 0, stopped.stderr);
    // A process that left its group (setsid) outlives the stop of a process-isolated instance.
    const purged = await d.ten(["rm", "--purge", "--yes", "leaky:alice"]);
    equal(purged.code, 0, purged.stderr);
    await waitFor(async () => (await livePidsOf(uid)).length === 0, {
      timeoutMs: 3_000,
      what: `no process of the freed uid ${uid}`,
    });
  },
});

Deno.test({
  name:
    "a hard link the tenant leaves in its dirs to a file of root's is not given to the tenant at the next start",
  ignore: !isRoot,
  async fn() {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    const secretDir = `${tmp.path}/secret`;
    await Deno.mkdir(secretDir, { mode: 0o700 });
    const secret = `${secretDir}/shadow`;
    await Deno.writeTextFile(secret, "root's", { mode: 0o600 });
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock({ default_user: "auto" }) + probeService(),
    });
    const alice = await whoami(d, "alice");
    // Where fs.protected_hardlinks is 0 a tenant may link any file it can reach by path; the test
    // makes the links it could make, in its socket dir and its data dir.
    await Deno.link(secret, `${d.dataDir}/run/probe.alice/linked`);
    await Deno.link(secret, `${d.dataDir}/probe/alice/linked`);
    await Deno.chown(`${d.dataDir}/probe/alice`, 0, 0);
    const restarted = await d.ten(["restart", "probe:alice"]);
    equal(restarted.code, 0, restarted.stderr);
    equal((await whoami(d, "alice")).uid, alice.uid);
    equal((await Deno.stat(secret)).uid, 0);
  },
});

Deno.test({
  name: 'ten stop and ten disable end what left the process group under user = "auto" too',
  ignore: !isRoot,
  async fn() {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock({ default_user: "auto" }) + LEAKY,
    });
    for (const verb of ["stop", "disable"]) {
      const res = await d.request(`${verb}.leaky.localhost`, "/");
      equal(res.status, 200, res.body);
      const uid = (await Deno.stat(`${d.dataDir}/leaky/${verb}`)).uid!;
      ok((await livePidsOf(uid)).length >= 2);
      const done = await d.ten([verb, `leaky:${verb}`]);
      equal(done.code, 0, done.stderr);
      await waitFor(async () => (await livePidsOf(uid)).length === 0, {
        timeoutMs: 3_000,
        what: `no process of uid ${uid} after ten ${verb}`,
      });
    }
  },
});

Deno.test({
  name:
    "a port another uid took while the app was starting is never taken for the instance: not ready, no traffic, a new port",
  ignore: !isRoot,
  async fn() {
    if (!isRoot) return;
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock({ default_user: "auto" }) + serviceBlock("slow", {
        // The app binds its port two seconds after its start: long enough to take the port first.
        command: "/bin/sh",
        args: ["-c", `sleep 2; exec ${PYTHON} ${FIXTURES}/inside_probe.py`],
        health: "/health",
        startup_timeout: 10,
      }),
    });
    // The request wakes slow:bob and waits for it; meanwhile its port is taken (here by root).
    const first = d.request("bob.slow.localhost", "/whoami");
    const port = await waitFor(async () => (await d.instance("slow:bob"))?.port ?? undefined, {
      what: "slow:bob's port",
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    const squatter = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      () => new Response("squatted"),
    );
    try {
      const res = await first;
      ok(!res.body.includes("squatted"), `the squatter answered for slow:bob: ${res.body}`);
      equal(res.status, 200, res.body);
      const row = await d.instance("slow:bob");
      notEqual(row?.port, port, "slow:bob runs on another port");
      const who = JSON.parse(res.body) as Whoami;
      ok(who.uid >= RANGE.start, `the real app answered (uid ${who.uid})`);
      const again = await d.request("bob.slow.localhost", "/whoami");
      ok(!again.body.includes("squatted"), again.body);
    } finally {
      await squatter.shutdown();
    }
  },
});
