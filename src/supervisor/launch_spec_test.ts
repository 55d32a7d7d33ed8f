import { deepEqual, equal, ok } from "node:assert/strict";
import { parseConfig } from "../config/parse_config.ts";
import type { ServiceConfig } from "../config/schema.ts";
import {
  type InstancePlan,
  planInstance,
  rootInstancesWarning,
  sharedUserWarning,
  userRequestOf,
} from "./launch_spec.ts";

/** A real ServiceConfig, parsed from TOML the way `ten serve` gets it. */
function serviceFrom(toml: string): ServiceConfig {
  const config = parseConfig(toml, { path: "/srv/app/tenement.toml" });
  const service = config.services.get("notes");
  if (service === undefined) throw new Error("fixture has no [service.notes]");
  return service;
}

function plan(toml: string, dataDir = "/srv/data", baseEnv: Record<string, string> = {}) {
  return planInstance({ service: serviceFrom(toml), id: "alice", dataDir, port: 30001, baseEnv });
}

Deno.test("planInstance() interpolates command and args and keeps each arg whole", () => {
  const p = plan(`
[service.notes]
command = "./bin/{name}"
args = ["--port", "{port}", "--db={data_dir}/{name}/{id}.db", "--socket", "{socket}", "a b"]
`);
  deepEqual(p.argv, [
    "./bin/notes",
    "--port",
    "30001",
    "--db=/srv/data/notes/alice.db",
    "--socket",
    "/srv/data/run/notes.alice/app.sock",
    "a b",
  ]);
});

Deno.test("planInstance() splits a command without args into shell words after interpolating", () => {
  const p = plan(`
[service.notes]
command = "python3 -m http.server {port} --bind '127.0.0.1' --directory \\"{data_dir}/{id}\\""
auto_create = false
`);
  deepEqual(p.argv, [
    "python3",
    "-m",
    "http.server",
    "30001",
    "--bind",
    "127.0.0.1",
    "--directory",
    "/srv/data/alice",
  ]);
});

Deno.test("planInstance() keeps a data_dir with spaces as one word of a split command", () => {
  const p = plan(
    `
[service.notes]
command = "./app --db {data_dir}/{id}.db"
auto_create = false
`,
    "/Users/me/Application Support/tenement",
  );
  deepEqual(p.argv, ["./app", "--db", "/Users/me/Application Support/tenement/alice.db"]);
});

Deno.test("planInstance() sets PORT and SOCKET_PATH over the user's env and the inherited env", () => {
  const p = plan(
    `
[service.notes]
command = "./app"
env = { PORT = "1", SOCKET_PATH = "/tmp/mine.sock", DB = "{data_dir}/{name}/{id}.db", ECHO_PORT = "{port}" }
`,
    "/srv/data",
    { PORT: "2", SOCKET_PATH: "/inherited.sock", HOME: "/home/me", DB: "inherited" },
  );
  deepEqual(p.env, {
    PORT: "30001",
    SOCKET_PATH: "/srv/data/run/notes.alice/app.sock",
    HOME: "/home/me",
    DB: "/srv/data/notes/alice.db",
    ECHO_PORT: "30001",
  });
});

Deno.test("planInstance() does not modify the inherited env", () => {
  const baseEnv = { PATH: "/usr/bin" };
  plan(`[service.notes]\ncommand = "./app"\nenv = { X = "1" }\n`, "/srv/data", baseEnv);
  deepEqual(baseEnv, { PATH: "/usr/bin" });
});

Deno.test("planInstance() places the instance under data_dir/service/id and runs in workdir", () => {
  const p: InstancePlan = plan(`
[service.notes]
command = "./app"
workdir = "/opt/notes"
socket = "{data_dir}/sockets/{name}.{id}.sock"
`);
  equal(p.instanceDir, "/srv/data/notes/alice");
  equal(p.cwd, "/opt/notes");
  equal(p.socketPath, "/srv/data/sockets/notes.alice.sock");
  equal(p.env["SOCKET_PATH"], "/srv/data/sockets/notes.alice.sock");
});

Deno.test("planInstance() never passes TENEMENT_* or SSH_AUTH_SOCK on to an instance", () => {
  const p = plan(`[service.notes]\ncommand = "./app"\n`, "/srv/data", {
    TENEMENT_TOKEN: "secret",
    TENEMENT_FOO: "x",
    SSH_AUTH_SOCK: "/tmp/agent",
    GOCACHE: "/cache",
  });
  deepEqual(p.env, {
    GOCACHE: "/cache",
    PORT: "30001",
    SOCKET_PATH: "/srv/data/run/notes.alice/app.sock",
  });
});

Deno.test("planInstance() with env_clear keeps only PATH LANG TZ HOME and env_passthrough", () => {
  const p = plan(
    `[service.notes]
command = "./app"
env_clear = true
env_passthrough = ["NVM_DIR"]
env = { APP = "1" }
`,
    "/srv/data",
    {
      PATH: "/usr/bin",
      LANG: "C.UTF-8",
      TZ: "UTC",
      HOME: "/root",
      NVM_DIR: "/nvm",
      AWS_SECRET_ACCESS_KEY: "no",
      TENEMENT_TOKEN: "no",
    },
  );
  deepEqual(p.env, {
    PATH: "/usr/bin",
    LANG: "C.UTF-8",
    TZ: "UTC",
    HOME: "/root",
    NVM_DIR: "/nvm",
    APP: "1",
    PORT: "30001",
    SOCKET_PATH: "/srv/data/run/notes.alice/app.sock",
  });
});

Deno.test("planInstance() gives notes:a-b and notes-a:b different socket paths", () => {
  const socketOf = (name: string, id: string) =>
    planInstance({
      service: { ...serviceFrom(`[service.notes]\ncommand = "./app"\n`), name },
      id,
      dataDir: "/d",
      port: 1,
      baseEnv: {},
    }).socketPath;
  equal(socketOf("notes", "a-b"), "/d/run/notes.a-b/app.sock");
  equal(socketOf("notes-a", "b"), "/d/run/notes-a.b/app.sock");
});

Deno.test("rootInstancesWarning() names only services whose instances really run as root", () => {
  const services = [
    { name: "notes", isolation: "process" as const, user: "inherit" },
    { name: "boxed", isolation: "sandbox" as const, user: "inherit" },
    { name: "api", isolation: "process" as const, user: "root" },
    { name: "own", isolation: "process" as const, user: "auto" },
    { name: "www", isolation: "process" as const, user: "www-data" },
    // Root in a namespace of its own keeps every capability: it can unmount what hides
    // tenement's files.
    { name: "ns", isolation: "namespace" as const, user: "inherit" },
  ];
  const warning = rootInstancesWarning(services, 0);
  ok(warning?.includes("notes, api, ns run as root"), warning);
  ok(warning?.includes("docs/security.md"), warning);
  equal(rootInstancesWarning(services, 1000), undefined);
  equal(rootInstancesWarning(services, null), undefined);
  equal(rootInstancesWarning(services.slice(3, 5), 0), undefined);
});

Deno.test("sharedUserWarning() names the daemon's user and the auto services when not root", () => {
  const services = [
    { name: "notes", user: "auto" },
    { name: "api", user: "inherit" },
  ];
  const warning = sharedUserWarning(services, 1000, "deploy");
  ok(warning?.includes('runs as "deploy" (uid 1000), not root'), warning);
  ok(warning?.includes("instances of notes run as"), warning);
  equal(sharedUserWarning(services, 0, "root"), undefined);
  equal(sharedUserWarning(services.slice(1), 1000, "deploy"), undefined);
});

Deno.test("userRequestOf() gives the instance its socket dir only with the default template", () => {
  const plan: InstancePlan = {
    argv: ["app"],
    env: {},
    cwd: "/srv",
    instanceDir: "/d/notes/alice",
    socketPath: "/d/run/notes.alice/app.sock",
  };
  const settings = { dataDir: "/d", autoUserRange: { start: 61184, end: 65519 } };
  const svc = parseConfig('[service.notes]\ncommand = "app"\n', { path: "/t.toml" }).services
    .get("notes")!;
  equal(userRequestOf(svc, "alice", settings, plan).socketDir, "/d/run/notes.alice");
  const custom = { ...svc, socket: "/run/{name}.{id}.sock" };
  equal(userRequestOf(custom, "alice", settings, plan).socketDir, undefined);
});
