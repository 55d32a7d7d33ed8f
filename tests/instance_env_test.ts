/**
 * Integration tests of what an instance inherits from `ten serve` (issue 13, "Nothing of
 * tenement's within a tenant's reach"): never `TENEMENT_*` or `SSH_AUTH_SOCK`; with `env_clear`
 * only `PATH LANG TZ HOME PORT SOCKET_PATH`, the service's `env` and `env_passthrough`; and socket
 * paths that two instances cannot share. A real `ten serve` with an app that reports its env.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  serviceBlock,
  type ServiceKeys,
  settingsBlock,
  startDaemon,
} from "../testkit/mod.ts";

/** The daemon's own environment in these tests: secrets, an ordinary variable and the kept set. */
const DAEMON_ENV = {
  TENEMENT_TOKEN: "admin-secret",
  TENEMENT_FOO: "foo",
  SSH_AUTH_SOCK: "/tmp/agent.sock",
  GOCACHE: "/tmp/gocache",
  NVM_DIR: "/tmp/nvm",
  LANG: "C.UTF-8",
  TZ: "UTC",
};

interface EnvEcho {
  readonly pid: number;
  readonly env: Record<string, string>;
}

/** A service running the env-reporting fixture. */
const envService = (keys: ServiceKeys = {}): ServiceKeys => ({
  fixture: "env_server.py",
  health: "/health",
  ...keys,
});

Deno.test("instances never see TENEMENT_* or SSH_AUTH_SOCK; env_clear keeps only the allowed set", async () => {
  await using d = await startDaemon({
    config: settingsBlock() +
      serviceBlock("plain", envService()) +
      serviceBlock(
        "clear",
        envService({ env_clear: true, env_passthrough: ["NVM_DIR"], env: { APP: "{id}" } }),
      ),
    env: DAEMON_ENV,
  });
  await apiSpawn(d, "plain", "alice");
  await apiSpawn(d, "clear", "bob");

  const plain = JSON.parse((await d.request("alice.plain.localhost")).body) as EnvEcho;
  for (const secret of ["TENEMENT_TOKEN", "TENEMENT_FOO", "SSH_AUTH_SOCK"]) {
    equal(plain.env[secret], undefined, `${secret} reached the instance`);
  }
  ok(!Object.keys(plain.env).some((name) => name.startsWith("TENEMENT_")), "a TENEMENT_* leaked");
  equal(plain.env["GOCACHE"], "/tmp/gocache", "ordinary daemon variables are still inherited");

  const clear = JSON.parse((await d.request("bob.clear.localhost")).body) as EnvEcho;
  const allowed = ["PATH", "LANG", "TZ", "HOME", "PORT", "SOCKET_PATH", "NVM_DIR", "APP"];
  const unexpected = Object.keys(clear.env).filter((name) =>
    !allowed.includes(name) && !PYTHON_ADDED.has(name)
  );
  deepEqual(unexpected, [], `env_clear let through: ${unexpected.join(", ")}`);
  equal(clear.env["NVM_DIR"], "/tmp/nvm");
  equal(clear.env["APP"], "bob");
  equal(clear.env["LANG"], "C.UTF-8");
  equal(clear.env["TZ"], "UTC");
  equal(clear.env["GOCACHE"], undefined);
  ok(clear.env["PATH"] !== undefined, "PATH is kept");
});

/** Variables the Python interpreter itself may add to its own environment. */
const PYTHON_ADDED = new Set(["LC_CTYPE"]);

Deno.test("notes:a-b and notes-a:b get different socket paths", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + serviceBlock("notes", envService()) +
      serviceBlock("notes-a", envService()),
  });
  await apiSpawn(d, "notes", "a-b");
  await apiSpawn(d, "notes-a", "b");
  const first = JSON.parse((await d.request("a-b.notes.localhost")).body) as EnvEcho;
  const second = JSON.parse((await d.request("b.notes-a.localhost")).body) as EnvEcho;
  equal(first.env["SOCKET_PATH"], `${d.dataDir}/run/notes.a-b/app.sock`);
  equal(second.env["SOCKET_PATH"], `${d.dataDir}/run/notes-a.b/app.sock`);
});
