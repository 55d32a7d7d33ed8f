/**
 * Integration tests of `isolation = "namespace"` and `"sandbox"` and `network = "none"` (issue
 * 13): a real root `ten serve`, real `unshare` and `bwrap`, and tests/fixtures/inside_probe.py
 * reporting from inside what it can see and reach. Instance bodies are read with `rawRequest`,
 * not `d.request`: pids reported from inside a PID namespace are not host pids.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  EXAMPLES,
  FIXTURES,
  progress,
  rawRequest,
  serviceBlock,
  type ServiceKeys,
  settingsBlock,
  startDaemon,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";
import type { Daemon } from "../testkit/mod.ts";
import { listDescendants } from "../src/runtime/proc_stat.ts";
import { prepareIsolation } from "../src/runtime/isolation_setup.ts";
import { wrapArgv } from "../src/runtime/launch_argv.ts";

const PY = "/usr/bin/python3";
const isRoot = Deno.uid() === 0;
const hasBwrap = (() => {
  try {
    return Deno.statSync("/usr/bin/bwrap").isFile;
  } catch {
    return false;
  }
})();
if (!isRoot) progress("isolation_test: skipping the root daemon tests: not running as root");
if (!hasBwrap) progress("isolation_test: skipping the sandbox tests: /usr/bin/bwrap missing");

/** The inside_probe fixture as a service with `/health`, run from the fixtures dir. */
const probe = (keys: ServiceKeys = {}): ServiceKeys => ({
  command: `${PY} ${FIXTURES}/inside_probe.py`,
  workdir: FIXTURES,
  health: "/health",
  env: { DATA_DIR: "{data_dir}/{name}/{id}" },
  ...keys,
});

/** A temp dir other users may pass through (a sandbox runs as an unprivileged uid). */
async function openTempDir(): Promise<{ path: string } & AsyncDisposable> {
  const tmp = await tempDir();
  await Deno.chmod(tmp.path, 0o755);
  return tmp;
}

/**
 * The data dir and its `run/` (0700: tenement's own files live there today) opened for the
 * sandbox's unprivileged uid to pass through to the instance's dir and socket dir.
 */
async function openDataDir(d: Daemon): Promise<void> {
  await Deno.chmod(d.dataDir, 0o711);
  await Deno.mkdir(`${d.dataDir}/run`, { recursive: true });
  await Deno.chmod(`${d.dataDir}/run`, 0o711);
}

/** GET `path` from instance `id.service` through tenement, as JSON. */
async function ask<T>(d: Daemon, host: string, path: string): Promise<T> {
  const res = await rawRequest(d.port, `${host}.localhost`, path, { timeoutMs: 10_000 });
  equal(res.status, 200, `${host}${path}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as T;
}

interface Can {
  readonly ok: boolean;
  readonly error: string;
}

/** Whether the instance at `host` can do `check=value`. */
async function can(d: Daemon, host: string, check: string, value: string): Promise<Can> {
  return await ask<Can>(d, host, `/can?${check}=${encodeURIComponent(value)}`);
}

async function assertCannot(d: Daemon, host: string, check: string, value: string): Promise<void> {
  const result = await can(d, host, check, value);
  ok(!result.ok, `${host} could ${check} ${value}`);
}

async function assertCan(d: Daemon, host: string, check: string, value: string): Promise<void> {
  const result = await can(d, host, check, value);
  ok(result.ok, `${host} could not ${check} ${value}: ${result.error}`);
}

/** Host pids of the instance's process group leader and everything below it. */
async function treeOf(pid: number): Promise<number[]> {
  return [pid, ...(await listDescendants(pid)).map((s) => s.pid)];
}

async function isGone(pids: readonly number[]): Promise<boolean> {
  for (const pid of pids) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      if (!/\) Z /.test(stat)) return false;
    } catch {
      // Gone.
    }
  }
  return true;
}

const rootOnly = { ignore: !isRoot, sanitizeResources: true };

Deno.test(
  "namespace: own PIDs only, the data dir hidden but its own, no TENEMENT_*, stop kills children",
  rootOnly,
  async () => {
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock() + serviceBlock("ns", probe({ isolation: "namespace" })) +
        serviceBlock("other", probe()),
      env: { TENEMENT_TOKEN: "admin-secret", TENEMENT_FOO: "x" },
    });
    await apiSpawn(d, "other", "bob");
    await Deno.writeTextFile(`${d.dataDir}/other/bob/secret.txt`, "bob's");
    const pid = await apiSpawn(d, "ns", "alice");

    const { pids } = await ask<{ pids: number[] }>(d, "alice.ns", "/pids");
    // A host has far more processes, with large pids; the namespace holds its set-up shell and the app.
    ok(pids.length <= 5 && pids.every((p) => p < 50), `sees host processes: ${pids.join(" ")}`);
    const who = await ask<{ pid: number; env: Record<string, string> }>(d, "alice.ns", "/whoami");
    ok(who.pid < 20, `app is pid ${who.pid} of its namespace (after its set-up steps)`);
    deepEqual(Object.keys(who.env).filter((k) => k.startsWith("TENEMENT_")), []);

    await assertCan(d, "alice.ns", "write", `${d.dataDir}/ns/alice/mine.txt`);
    await assertCannot(d, "alice.ns", "exists", `${d.dataDir}/other/bob/secret.txt`);
    await assertCannot(d, "alice.ns", "exists", `${d.dataDir}/other`);
    for await (const entry of Deno.readDir(d.dataDir)) {
      if (entry.name === "ns" || entry.name === "run") continue;
      await assertCannot(d, "alice.ns", "exists", `${d.dataDir}/${entry.name}`);
    }
    // Of run/, only its own socket dir.
    for await (const entry of Deno.readDir(`${d.dataDir}/run`)) {
      if (entry.name === "ns.alice") continue;
      await assertCannot(d, "alice.ns", "exists", `${d.dataDir}/run/${entry.name}`);
    }

    const forked = await ask<{ forked: number }>(d, "alice.ns", "/fork?n=3");
    equal(forked.forked, 3);
    const tree = await treeOf(pid);
    ok(tree.length >= 5, `unshare, init, app and 3 children: ${tree.join(" ")}`);
    await d.stopInstance("ns", "alice");
    ok(await isGone(tree), "a process of the namespace outlived the stop");
  },
);

Deno.test(
  "sandbox: writes only its data dir, reads nothing of tenement's or other tenants', stops gracefully",
  {
    ...rootOnly,
    ignore: !isRoot || !hasBwrap,
  },
  async () => {
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock() + serviceBlock("box", probe({ isolation: "sandbox" })) +
        serviceBlock("other", probe()) +
        serviceBlock("boxdefault", { ...probe({ isolation: "sandbox" }), workdir: "." }) +
        serviceBlock("stubborn", {
          command: `${PY} ${FIXTURES}/ignore_sigterm.py`,
          workdir: FIXTURES,
          isolation: "sandbox",
          stop_grace_period: 1,
        }) +
        serviceBlock("slow", {
          command: `${PY} ${FIXTURES}/sigterm_slow.py`,
          workdir: FIXTURES,
          isolation: "sandbox",
          env: { SHUTDOWN_MS: "400" },
          stop_grace_period: 5,
        }),
      env: { TENEMENT_TOKEN: "admin-secret" },
    });
    await openDataDir(d);
    const otherPid = await apiSpawn(d, "other", "bob");
    await Deno.writeTextFile(`${d.dataDir}/other/bob/secret.txt`, "bob's");
    await apiSpawn(d, "box", "alice");
    const host = "alice.box";

    const who = await ask<{ uid: number; env: Record<string, string> }>(d, host, "/whoami");
    ok(who.uid !== 0, "the sandboxed app runs as root");
    ok(who.uid >= 61184 && who.uid <= 65519, `a uid of its own from auto_user_range: ${who.uid}`);
    await apiSpawn(d, "box", "carol");
    const carol = await ask<{ uid: number }>(d, "carol.box", "/whoami");
    ok(carol.uid !== who.uid && carol.uid >= 61184, "each sandbox has a uid of its own");
    deepEqual(Object.keys(who.env).filter((k) => k.startsWith("TENEMENT_")), []);

    await assertCan(d, host, "write", `${d.dataDir}/box/alice/mine.txt`);
    const marker = `/tmp/tenement-sandbox-${crypto.randomUUID()}`;
    await assertCan(d, host, "write", marker);
    ok(!(await exists(marker)), "the sandbox's /tmp is the host's");
    for (const path of ["/etc/x", "/usr/x", `${FIXTURES}/x`, "/x"]) {
      await assertCannot(d, host, "write", path);
    }
    // The data dir's parents lie in the sandbox's private /tmp here: a write may land there, but
    // never on the host.
    await can(d, host, "write", `${d.dataDir}/x`);
    ok(!(await exists(`${d.dataDir}/x`)), "the sandbox wrote into the host's data dir");
    for (
      const path of ["/etc/shadow", `${d.dataDir}/other/bob/secret.txt`, `${d.dir}/tenement.toml`]
    ) {
      await assertCannot(d, host, "read", path);
    }
    // Only its own data dir, and its own socket dir under run/, are there.
    for await (const entry of Deno.readDir(d.dataDir)) {
      if (entry.name !== "box" && entry.name !== "run") {
        await assertCannot(d, host, "exists", `${d.dataDir}/${entry.name}`);
      }
    }
    for await (const entry of Deno.readDir(`${d.dataDir}/run`)) {
      if (entry.name !== "box.alice") {
        await assertCannot(d, host, "exists", `${d.dataDir}/run/${entry.name}`);
      }
    }
    await assertCannot(d, host, "connect_unix", `${d.dataDir}/.tenement/api.sock`);
    // With the default workdir (the config's dir, which holds ./data) the data dir stays covered.
    await apiSpawn(d, "boxdefault", "carol");
    await assertCan(d, "carol.boxdefault", "exists", `${d.dir}/tenement.toml`);
    await assertCannot(d, "carol.boxdefault", "exists", `${d.dataDir}/other/bob/secret.txt`);
    await assertCannot(d, "carol.boxdefault", "exists", `${d.dataDir}/box`);
    await assertCannot(d, host, "signal", String(otherPid));

    await d.spawn("slow", "s");
    await d.running("slow:s");
    const slowPid = (await d.instance("slow:s"))!.pid!;
    const tree = await treeOf(slowPid);
    const res = await d.api("DELETE", "/api/instances/slow:s");
    equal(res.status, 204);
    const logs = await d.api("GET", "/api/logs?process=slow&id=s");
    const messages = (JSON.parse(logs.body) as Array<{ message: string }>).map((e) => e.message);
    ok(messages.includes("shutdown complete"), `no graceful stop: ${messages.join("|")}`);
    ok(await isGone(tree), "a process of the sandbox outlived the stop");

    // An app that ignores SIGTERM is killed after the grace period, with the whole sandbox.
    await d.spawn("stubborn", "s");
    await d.running("stubborn:s");
    const stubborn = await treeOf((await d.instance("stubborn:s"))!.pid!);
    equal((await d.api("DELETE", "/api/instances/stubborn:s")).status, 204);
    ok(await isGone(stubborn), "a process of the stubborn sandbox outlived the stop");
  },
);

Deno.test(
  'sandbox with network = "none": no TCP from inside, served and health-checked over its socket',
  {
    ...rootOnly,
    ignore: !isRoot || !hasBwrap,
  },
  async () => {
    await using tmp = await openTempDir();
    await using d = await startDaemon({
      dir: tmp.path,
      config: settingsBlock() +
        serviceBlock(
          "box",
          probe({
            isolation: "sandbox",
            network: "none",
            socket: "{data_dir}/run/{name}.{id}/app.sock",
          }),
        ),
    });
    await openDataDir(d);
    await apiSpawn(d, "box", "alice");
    await assertCannot(d, "alice.box", "connect_tcp", `127.0.0.1:${d.port}`);
    const row = await waitFor(async () => {
      const r = await d.instance("box:alice");
      return r?.health === "healthy" ? r : undefined;
    }, { timeoutMs: 10_000 });
    equal(row.health, "healthy");
  },
);

Deno.test("the bundled examples serve under namespace and sandbox", {
  ...rootOnly,
  ignore: !isRoot || !hasBwrap,
}, async (t) => {
  const examples: Record<string, ServiceKeys> = {
    notes: { command: `${PY} app.py`, workdir: `${EXAMPLES}/notes-py` },
    node: { command: "/usr/bin/node", args: ["server.mjs"], workdir: `${EXAMPLES}/hello-node` },
    go: { command: `${EXAMPLES}/hello-go/hello-go`, workdir: `${EXAMPLES}/hello-go` },
  };
  for (const isolation of ["namespace", "sandbox"]) {
    await t.step(isolation, async () => {
      await using tmp = await openTempDir();
      const services = Object.entries(examples).map(([name, keys]) =>
        serviceBlock(name, {
          ...keys,
          health: "/health",
          isolation,
          env: { DATA_DIR: "{data_dir}/{name}/{id}", TENANT: "{id}" },
        })
      );
      await using d = await startDaemon({
        dir: tmp.path,
        config: settingsBlock() + services.join(""),
      });
      await openDataDir(d);
      for (const name of Object.keys(examples)) {
        await apiSpawn(d, name, "alice");
        const res = await rawRequest(d.port, `alice.${name}.localhost`, "/", { timeoutMs: 10_000 });
        equal(res.status, 200, `${name} under ${isolation}: ${res.status} ${res.body}`);
      }
    });
  }
});

Deno.test("the proxy takes the Unix socket when the app listens on it", async () => {
  await using tmp = await openTempDir();
  await using d = await startDaemon({
    dir: tmp.path,
    config: settingsBlock() +
      serviceBlock("both", {
        command: `${PY} ${FIXTURES}/unix_socket_server.py`,
        health: "/health",
        socket: "{data_dir}/run/{name}.{id}/app.sock",
      }),
  });
  await apiSpawn(d, "both", "alice");
  const res = await rawRequest(d.port, "alice.both.localhost", "/", { timeoutMs: 10_000 });
  equal((JSON.parse(res.body) as { via: string }).via, "unix");
});

Deno.test(
  "sandbox as an unprivileged daemon user: bwrap in a user namespace, nothing of the host writable",
  {
    ignore: !isRoot || !hasBwrap,
  },
  async () => {
    await using tmp = await openTempDir();
    const instance = `${tmp.path}/data/box/alice`;
    await Deno.mkdir(instance, { recursive: true });
    await Deno.chmod(`${tmp.path}/data`, 0o755);
    await Deno.chown(instance, 65534, 65534);
    const request = {
      isolation: "sandbox" as const,
      argv: ["/bin/sh", "-c", SANDBOX_REPORT, "sh", instance],
      cwd: instance,
      pathVar: "/usr/bin:/bin",
      dataDir: `${tmp.path}/data`,
      instanceDir: instance,
      daemonUid: 65534,
    };
    const plan = await prepareIsolation(request);
    equal(plan.user, undefined, "a non-root daemon runs the sandbox as itself");
    const argv = wrapArgv({ ...request, ...plan, cwd: instance });
    // The daemon as `nobody`: what a non-root `ten serve` would run.
    const out = await new Deno.Command("setpriv", {
      args: ["--reuid=65534", "--regid=65534", "--clear-groups", "--", ...argv],
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (/No permissions to create new namespace|setting up uid map/.test(text)) {
      progress(`isolation_test: unprivileged user namespaces refused, skipped: ${text.trim()}`);
      return;
    }
    equal(out.code, 0, text);
    deepEqual(text.trim().split("\n"), ["uid 65534", "shadow no", "etc no", "data yes"]);
    ok(await exists(`${instance}/f`), "the write to the instance dir reached the host");
  },
);

/** Reports, one line each, the uid and whether /etc/shadow is readable, /etc and $1 writable. */
const SANDBOX_REPORT = [
  'echo "uid $(id -u)"',
  'if cat /etc/shadow >/dev/null 2>&1; then echo "shadow yes"; else echo "shadow no"; fi',
  'if touch /etc/x 2>/dev/null; then echo "etc yes"; else echo "etc no"; fi',
  'if touch "$1/f"; then echo "data yes"; else echo "data no"; fi',
].join("\n");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
