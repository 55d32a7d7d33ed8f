/**
 * Integration tests of `ten disable` / `ten enable` (issue 13): a disabled instance is stopped
 * with its data kept, no request wakes it (403 naming it), spawn and restart are refused with
 * 409, it stays disabled across a daemon restart (`[instances]` does not start it), `ps --all`
 * shows it, and after `ten enable` the next request wakes it. Also: ids that start with `-` or
 * `_` are unknown to the proxy and refused by the API and the CLI. Real `ten` against a real
 * `ten serve`.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  type CliResult,
  instancesBlock,
  okService,
  settingsBlock,
  startDaemon,
  succeeded,
  waitFor,
  waitGroupGone,
} from "../testkit/mod.ts";
import type { DisableResponse, HistoryEntryJson, InstanceJson } from "../src/api/wire.ts";

/** Asserts a failed run (exit 1) with exactly this error line. */
function failedWith(res: CliResult, message: string): void {
  equal(res.code, 1, res.stdout);
  equal(res.stderr, `Error: ${message}\n`);
}

Deno.test("a disabled instance is stopped, refused, stays disabled across a restart, and wakes after enable", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes", { storage_persist: false }) +
      instancesBlock({ notes: ["boot"] }),
  });
  const alice = await apiSpawn(d, "notes", "alice");
  await d.running("notes:boot");
  const dataFile = `${d.dataDir}/notes/alice/keep.txt`;
  await Deno.writeTextFile(dataFile, "mine");

  // Disable: the process group goes, the data stays (even with storage_persist = false).
  const disabled = succeeded(await d.ten(["disable", "notes:alice"]), "disable");
  equal(
    disabled.stdout,
    "Disabled notes:alice (stopped; requests get 403 until ten enable notes:alice)\n",
  );
  ok(await waitGroupGone(alice), "the process group is gone");
  equal(await Deno.readTextFile(dataFile), "mine", "disabling is not deleting");
  const again = succeeded(await d.ten(["disable", "notes:alice"]), "disable again");
  equal(again.stdout, "notes:alice is already disabled\n");

  // No request wakes it; spawn and restart are refused with 409.
  const page = await d.request("alice.notes.localhost", "/");
  equal(page.status, 403);
  equal(page.body, "notes:alice is disabled by the operator\n");
  failedWith(
    await d.ten(["spawn", "notes:alice"]),
    "notes:alice is disabled; ten enable notes:alice first",
  );
  failedWith(
    await d.ten(["restart", "notes:alice"]),
    "notes:alice is disabled; ten enable notes:alice first",
  );
  const apiSpawnRes = await d.api("POST", "/api/instances/spawn", {
    process: "notes",
    id: "alice",
  });
  equal(apiSpawnRes.status, 409, apiSpawnRes.body);
  const deploy = await d.api("POST", "/api/deploy", { process: "notes", version: "alice" });
  equal(deploy.status, 409, deploy.body);

  // A tenant may neither disable nor enable, and its spawn of it is refused too.
  const tenant = await d.tenantToken("alice");
  failedWith(
    await d.ten(["enable", "notes:alice", "--token", tenant]),
    "Enabling an instance requires admin token",
  );
  failedWith(
    await d.ten(["disable", "notes:alice", "--token", tenant]),
    "Disabling an instance requires admin token",
  );
  const tenantSpawn = await d.apiAs(tenant, "POST", "/api/instances/spawn", {
    process: "notes",
    id: "alice",
  });
  equal(tenantSpawn.status, 409, tenantSpawn.body);
  failedWith(await d.ten(["disable", "notes:nosuch"]), "Instance not found: notes:nosuch");

  // ps: --all shows it as disabled; plain ps lists running instances only.
  succeeded(await d.ten(["disable", "notes:boot"]), "disable boot");
  const all = succeeded(await d.ten(["ps", "--all"]), "ps --all").stdout;
  const row = all.split("\n").find((line) => line.startsWith("notes:alice"));
  ok(row?.includes(" disabled ") && row.includes("disabled by the operator"), all);
  ok(!succeeded(await d.ten(["ps"]), "ps").stdout.includes("notes:alice"));
  const json = JSON.parse(succeeded(await d.ten(["ps", "--all", "--json"]), "ps --json").stdout);
  const aliceJson = (json as InstanceJson[]).find((r) => r.id === "notes:alice");
  equal(aliceJson?.disabled, true);
  equal(aliceJson?.status, "disabled");

  // A daemon restart keeps both disabled; [instances] does not start notes:boot.
  equal(await d.stop(), 0, d.stderr);
  await d.start();
  equal((await d.instance("notes:alice"))?.status, "disabled");
  equal((await d.instance("notes:boot"))?.status, "disabled");
  await waitFor(
    () => d.stderr.includes("Not starting notes:boot from [instances]: it is disabled"),
    { what: "the log line of the skipped [instances] entry" },
  );
  equal((await d.request("alice.notes.localhost", "/")).status, 403);

  // Enable does not start it; the next request wakes it.
  const enabled = succeeded(await d.ten(["enable", "notes:alice"]), "enable");
  equal(enabled.stdout, "Enabled notes:alice (wakes on its next request)\n");
  const after = await d.instance("notes:alice");
  equal(after?.status, "stopped");
  equal(after?.disabled, false);
  equal(after?.pid, null);
  const woken = await d.request("alice.notes.localhost", "/");
  equal(woken.status, 200, woken.body);
  await d.running("notes:alice");
  equal(await Deno.readTextFile(dataFile), "mine");
  equal(
    succeeded(await d.ten(["enable", "notes:alice"]), "enable").stdout,
    "notes:alice is not disabled\n",
  );

  // rm works on a disabled instance; the audit trail has both actions.
  succeeded(await d.ten(["rm", "notes:boot"]), "rm disabled");
  equal(await d.instance("notes:boot"), undefined);
  const history = JSON.parse(
    (await d.api("GET", "/api/history?limit=100")).body,
  ) as HistoryEntryJson[];
  const mine = history.filter((e) => e.target === "notes:alice" && e.action.endsWith("able"))
    .map((e) => [e.actor, e.action, e.outcome, e.details]);
  deepEqual(mine, [
    ["admin", "disable", "ok", ""],
    ["admin", "disable", "ok", "already disabled"],
    ["admin", "enable", "ok", ""],
    ["admin", "enable", "ok", "already enabled"],
  ]);
});

Deno.test("the weighted route skips a disabled instance", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("api") });
  const a = await apiSpawn(d, "api", "a");
  const b = await apiSpawn(d, "api", "b");
  const res = await d.api("POST", "/api/instances/api:a/disable");
  equal(res.status, 200, res.body);
  deepEqual(JSON.parse(res.body) as DisableResponse, {
    instance: "api:a",
    disabled: true,
    changed: true,
    status: "disabled",
  });
  ok(await waitGroupGone(a));
  for (let i = 0; i < 6; i++) {
    const served = await d.request("api.localhost", "/");
    equal(served.status, 200, served.body);
    equal((JSON.parse(served.body) as { pid: number }).pid, b);
  }
  equal((await d.api("POST", "/api/instances/api:b/disable")).status, 200);
  equal((await d.request("api.localhost", "/")).status, 503, "no instance can take traffic");
});

Deno.test("ids starting with - or _ are unknown to the proxy and refused by the API and the CLI", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes", { auto_create: true }),
  });
  for (const host of ["-x.notes.localhost", "_x.notes.localhost", "--help.notes.localhost"]) {
    const res = await d.request(host, "/");
    equal(res.status, 404, `${host}: ${res.body}`);
  }
  deepEqual(await d.instances(), [], "nothing was created");
  const api = await d.api("POST", "/api/instances/spawn", { process: "notes", id: "-rf" });
  equal(api.status, 400, api.body);
  equal(
    (JSON.parse(api.body) as { error: string }).error,
    'Invalid id "-rf": starts with "-" (it must start with a letter or digit)',
  );
  failedWith(
    await d.ten(["spawn", "notes:_x"]),
    'Invalid id "_x": starts with "_" (it must start with a letter or digit)',
  );
  // A valid id is still created by its Host.
  equal((await d.request("x-1.notes.localhost", "/")).status, 200);
});
