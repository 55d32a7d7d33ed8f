import { deepEqual, equal, ok } from "node:assert/strict";
import { keptPaths, type SandboxView, wrapArgv } from "./launch_argv.ts";

const APP = ["/usr/bin/python3", "/srv/app/main.py"];
const USER = { uid: 61200, gid: 61200 };
const PROCS = ["/sys/fs/cgroup/memory/tenement/a/cgroup.procs"];

/** Index of `needle` in `argv` as a contiguous run, or -1. */
function indexOfRun(argv: readonly string[], needle: readonly string[]): number {
  for (let i = 0; i + needle.length <= argv.length; i++) {
    if (needle.every((word, j) => argv[i + j] === word)) return i;
  }
  return -1;
}

Deno.test("wrapArgv() process: cgroup join, then the user drop, then the app", () => {
  const argv = wrapArgv({ argv: APP, isolation: "process", user: USER, cgroupProcs: PROCS });
  equal(argv[0], "/bin/sh");
  ok(indexOfRun(argv, PROCS) > 0);
  const drop = argv.indexOf("setpriv");
  ok(drop > argv.indexOf(PROCS[0]!));
  deepEqual(argv.slice(-2), APP);
});

Deno.test("wrapArgv() namespace: unshare with PID (forked), mount, IPC and UTS namespaces before the user drop", () => {
  const argv = wrapArgv({
    argv: APP,
    isolation: "namespace",
    user: USER,
    cgroupProcs: PROCS,
    dataDir: "/var/lib/tenement",
    instanceDir: "/var/lib/tenement/notes/alice",
    socketDir: "/var/lib/tenement/run/notes.alice",
    cwd: "/srv/app",
  });
  const unshare = argv.indexOf("unshare");
  ok(unshare > argv.indexOf(PROCS[0]!), "cgroup join first");
  for (const flag of ["--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]) {
    ok(argv.includes(flag), flag);
  }
  const script = argv.indexOf("-c", unshare);
  ok(script > unshare);
  // The script is a constant: paths only come as its arguments.
  ok(!argv[script + 1]!.includes("/var/lib/tenement"), "a path was put into shell code");
  deepEqual(argv.slice(script + 2, script + 6), ["sh", "/var/lib/tenement", "/srv/app", "2"]);
  const kept = ["/var/lib/tenement/notes/alice", "/var/lib/tenement/run/notes.alice"];
  deepEqual(argv.slice(script + 6, script + 10), [...kept, ...kept]);
  ok(argv.indexOf("setpriv") > script, "the user drop runs inside the namespace");
  deepEqual(argv.slice(-2), APP);
});

Deno.test("wrapArgv() sandbox: the user drop before bwrap; read-only system, private /tmp, the instance dir writable", () => {
  const view: SandboxView = {
    systemPaths: [{ path: "/usr" }, { path: "/lib", linkTarget: "usr/lib" }, { path: "/etc" }],
    maskedFiles: ["/etc/shadow"],
    maskedDirs: ["/etc/ssl/private"],
    readonlyPaths: ["/srv/app"],
  };
  const base = {
    argv: APP,
    isolation: "sandbox" as const,
    user: USER,
    cgroupProcs: PROCS,
    dataDir: "/var/lib/tenement",
    instanceDir: "/var/lib/tenement/notes/alice",
    socketDir: "/var/lib/tenement/run/notes.alice",
    cwd: "/srv/app",
    view,
    mounts: [{ source: "/srv/shared", destination: "/shared", readonly: true }],
  };
  const argv = wrapArgv(base);
  const bwrap = argv.indexOf("bwrap");
  ok(argv.indexOf("setpriv") < bwrap && argv.indexOf(PROCS[0]!) < bwrap);
  for (
    const run of [
      ["--unshare-all", "--share-net"],
      ["--die-with-parent", "--new-session", "--cap-drop", "ALL"],
      ["--ro-bind", "/usr", "/usr"],
      ["--symlink", "usr/lib", "/lib"],
      ["--ro-bind", "/dev/null", "/etc/shadow"],
      ["--tmpfs", "/etc/ssl/private"],
      ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
      ["--ro-bind", "/srv/app", "/srv/app"],
      ["--bind", "/var/lib/tenement/notes/alice", "/var/lib/tenement/notes/alice"],
      ["--bind", "/var/lib/tenement/run/notes.alice", "/var/lib/tenement/run/notes.alice"],
      ["--ro-bind", "/srv/shared", "/shared"],
      ["--chdir", "/srv/app", "--", ...APP],
    ]
  ) {
    ok(indexOfRun(argv, run) > bwrap, run.join(" "));
  }
  ok(!argv.includes("/var/lib/tenement"), "the data dir itself is never bound");
  const beside = wrapArgv({ ...base, view: { ...view, readonlyPaths: ["/var/lib"] } });
  ok(
    indexOfRun(beside, ["--ro-bind", "/var/lib", "/var/lib", "--tmpfs", "/var/lib/tenement"]) > 0,
    "a read-only workdir holding the data dir gets the data dir covered again",
  );
  const offline = wrapArgv({ ...base, network: "none" });
  ok(!offline.includes("--share-net"), 'network = "none" keeps the network unshared');
});

Deno.test("wrapArgv() refuses levels it cannot build", () => {
  let message = "";
  try {
    wrapArgv({ argv: APP, isolation: "firecracker" });
  } catch (err: unknown) {
    message = err instanceof Error ? err.message : "";
  }
  ok(message.includes("firecracker"));
});

Deno.test("keptPaths() keeps the outermost paths under the data dir only", () => {
  deepEqual(
    keptPaths("/d", [
      "/d/notes/alice",
      "/d/notes/alice/sub",
      "/d/run/notes.alice",
      "/srv",
      undefined,
      "/d",
    ]),
    ["/d/notes/alice", "/d/run/notes.alice"],
  );
});

Deno.test("wrapArgv() runs the wrappers by the absolute paths the launcher found", () => {
  const ns = wrapArgv({
    argv: APP,
    isolation: "namespace",
    wrapperPath: "/usr/bin/unshare",
    user: USER,
    setprivPath: "/usr/bin/setpriv",
  });
  equal(ns[0], "/usr/bin/unshare");
  ok(ns.includes("/usr/bin/setpriv") && !ns.includes("setpriv"));
  const sandbox = wrapArgv({ argv: APP, isolation: "sandbox", wrapperPath: "/usr/bin/bwrap" });
  equal(sandbox[0], "/usr/bin/bwrap");
  ok(!sandbox.includes("bwrap"));
});
