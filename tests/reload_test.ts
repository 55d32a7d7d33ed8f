/**
 * Integration tests of `ten reload` and SIGHUP (issue 12, "Config reload"): a good file is put
 * in force for later starts (`ten restart` runs the new command and env), a bad one changes
 * nothing and says why, and settings read at start are reported. Real `ten` runs against a
 * real `ten serve` with real instances.
 * @module
 */
import { equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  type Daemon,
  okService,
  settingsBlock,
  startDaemon,
  succeeded,
  waitFor,
} from "../testkit/mod.ts";

/** The `TENANT` value the instance behind `host` was started with (ok_server.py echoes it). */
async function tenantOf(d: Daemon, host: string): Promise<string> {
  const res = await d.request(host, "/whoami");
  equal(res.status, 200, res.body);
  return (JSON.parse(res.body) as { tenant: string }).tenant;
}

/** A notes service whose instances say `version` (as TENANT) and a data dir each. */
function notes(version: string): string {
  return okService("notes", { env: { DATA_DIR: "{data_dir}/{name}/{id}", TENANT: version } });
}

Deno.test("ten reload: ten restart runs the new command and env; new services route, removed ones stop starting", async () => {
  const settings = settingsBlock();
  await using d = await startDaemon({ config: settings + notes("v1") + okService("old") });
  await apiSpawn(d, "notes", "alice");
  await apiSpawn(d, "old", "x");
  equal(await tenantOf(d, "alice.notes.localhost"), "v1");

  await d.writeConfig(settings + notes("v2") + okService("blog"));
  const res = succeeded(await d.ten(["reload"]), "reload");
  equal(
    res.stdout,
    [
      `Reloaded ${d.configPath}`,
      "  added: blog",
      "  changed: notes (env)",
      "  removed: old",
      "notes:alice runs the previous definition; ten restart notes:alice to apply",
      "old:x runs a removed service: it keeps running until ten stop old:x, and cannot be started again",
      "",
    ].join("\n"),
  );
  equal(await tenantOf(d, "alice.notes.localhost"), "v1", "a reload leaves running processes");

  succeeded(await d.ten(["restart", "notes:alice"]), "restart");
  equal(await tenantOf(d, "alice.notes.localhost"), "v2", "the restart runs the new env");
  equal((await d.request("bob.blog.localhost", "/")).status, 200, "the new service routes");

  // The removed service's instance serves until stopped, and nothing of it starts again.
  equal((await d.request("x.old.localhost", "/")).status, 200);
  const spawn = await d.ten(["spawn", "old:y"]);
  equal(spawn.code, 1, spawn.stdout);
  equal(spawn.stderr, 'Error: Unknown service "old": it is not defined in the config\n');
  succeeded(await d.ten(["stop", "old:x"]), "stop old:x");
  equal((await d.request("x.old.localhost", "/")).status, 404);

  // Reloading the same file again: nothing changed, and notes:alice is up to date.
  const again = succeeded(await d.ten(["reload"]), "reload again");
  equal(again.stdout, `Reloaded ${d.configPath}: no changes\n`);
});

Deno.test("ten reload of a bad file changes nothing and prints the ten config errors", async (t) => {
  const settings = settingsBlock();
  await using d = await startDaemon({ config: settings + notes("v1") });
  await apiSpawn(d, "notes", "alice");
  const tenant = await d.tenantToken("alice");

  await d.writeConfig(`${settings}${notes("v2")}idle_timout = 5\n`);
  const config = await d.ten(["config"]);
  equal(config.code, 1);
  ok(config.stderr.includes(':13:1: unknown key "idle_timout"'), config.stderr);
  const expected =
    `${config.stderr}  nothing was changed: the daemon keeps running the previous config\n`;
  await t.step("as the daemon says it (token given)", async () => {
    const res = await d.ten(["reload", "--token", d.token]);
    equal(res.code, 1, res.stdout);
    equal(res.stdout, "");
    equal(res.stderr, expected);
  });
  await t.step("when the token file is found through the bad file", async () => {
    const res = await d.ten(["reload"]);
    equal(res.code, 1, res.stdout);
    equal(res.stderr, expected);
  });

  succeeded(await d.ten(["restart", "notes:alice", "--token", d.token]), "restart");
  equal(await tenantOf(d, "alice.notes.localhost"), "v1", "the previous config still runs");

  const denied = await d.ten(["reload", "--token", tenant]);
  equal(denied.code, 1);
  equal(denied.stderr, "Error: Reload requires admin token\n");
});

Deno.test("SIGHUP reloads; settings read at start are reported as needing a daemon restart", async () => {
  const settings = settingsBlock();
  await using d = await startDaemon({ config: settings + notes("v1") });
  await apiSpawn(d, "notes", "alice");

  await d.writeConfig(`${settings}${notes("v1")}idle_timout = 5\n`);
  d.signal("SIGHUP");
  await waitFor(() => d.stderr.includes("Config reload refused"), { what: "refusal log" });
  ok(/unknown key "idle_timout"/.test(d.stderr), d.stderr);

  const moved = settings.replace('data_dir = "./data"', 'data_dir = "./elsewhere"');
  await d.writeConfig(moved + notes("v3") + okService("blog"));
  d.signal("SIGHUP");
  await waitFor(() => d.stderr.includes("added: blog"), { what: "reload log" });
  ok(
    d.stderr.includes("Needs a daemon restart (ignored until then): settings.data_dir"),
    d.stderr,
  );
  ok(d.stderr.includes("notes:alice runs the previous definition"), d.stderr);
  const blog = await d.spawn("blog", "b");
  ok(blog.pid !== null);
  // Through the API: the CLI would look for its token under the file's new data_dir.
  const restart = await d.api("POST", "/api/instances/notes:alice/restart");
  equal(restart.status, 200, restart.body);
  equal(await tenantOf(d, "alice.notes.localhost"), "v3");
  // The data dir in force is still the one the daemon started with.
  ok(await exists(`${d.dataDir}/notes/alice`), "the instance keeps its data dir");
  ok(!(await exists(`${d.dir}/elsewhere`)), "nothing was written to the new data_dir");
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
