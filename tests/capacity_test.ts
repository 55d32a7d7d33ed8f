/**
 * Capacity on a real daemon with real fixture apps: `max_awake` puts the least recently used
 * instance to sleep (its process really gone) and it wakes again on its next request; a flood of
 * requests to random ids leaves processes, entries and data dirs bounded, and the real tenants
 * still get created afterwards; a client over its wake or creation rate gets 429 with
 * Retry-After and starts nothing.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  type Daemon,
  type InstanceJson,
  isAlive,
  okService,
  print,
  rawRequest,
  settingsBlock,
  sleep,
  startDaemon,
  waitFor,
} from "../testkit/mod.ts";

/** `ten ps --all --json`. */
async function psAll(d: Daemon): Promise<InstanceJson[]> {
  const res = await d.ten(["ps", "--all", "--json"]);
  equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as InstanceJson[];
}

function rowOf(rows: readonly InstanceJson[], key: string): InstanceJson | undefined {
  return rows.find((r) => r.id === key);
}

/** Names in `dir` (none when it does not exist). */
async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (err: unknown) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names;
}

Deno.test("max_awake = 2: waking a third tenant stops the least recently used one, which wakes again on its next request", async () => {
  await using d = await startDaemon({
    config: settingsBlock({ max_awake: 2 }) + okService("notes"),
  });
  const visit = async (id: string): Promise<number> => {
    const res = await d.request(`${id}.notes.localhost`, "/");
    equal(res.status, 200, `${id}: ${res.body}`);
    return (JSON.parse(res.body) as { pid: number }).pid;
  };
  await visit("alice");
  await sleep(50);
  const bobPid = await visit("bob");
  await sleep(50);
  // alice is used again: bob is now the least recently used.
  await visit("alice");
  await sleep(50);
  await visit("carol");
  const rows = await psAll(d);
  deepEqual(
    ["alice", "bob", "carol"].map((id) => rowOf(rows, `notes:${id}`)?.status),
    ["running", "asleep", "running"],
  );
  equal(rowOf(rows, "notes:bob")?.pid, null);
  equal(rowOf(rows, "notes:bob")?.reason, "to make room for notes:carol (max_awake = 2)");
  equal(await isAlive(bobPid), false, "bob's process is really gone");
  ok(d.stderr.includes("Stopped notes:bob: to make room for notes:carol (max_awake = 2)"));
  ok((await d.metrics()).includes('tenement_evictions_total{process="notes"} 1'));

  // bob's next request wakes it; alice is now the least recently used and goes to sleep.
  const newBobPid = await visit("bob");
  ok(newBobPid !== bobPid);
  const after = await psAll(d);
  deepEqual(
    ["alice", "bob", "carol"].map((id) => rowOf(after, `notes:${id}`)?.status),
    ["asleep", "running", "running"],
  );
  equal(after.filter((r) => r.pid !== null).length, 2);
});

const FLOOD_REQUESTS = 10_000;
const FLOOD_CONCURRENCY = 32;
const FLOOD_BUDGET_MS = 120_000;
const OPEN_LIMIT = 12;

Deno.test("10,000 requests to random ids from many clients leave processes, entries and data dirs bounded", async () => {
  await using d = await startDaemon({
    // Behind a trusted proxy: every request names a client of its own, as a botnet would.
    config: settingsBlock({ trusted_proxies: ["127.0.0.1"], max_awake: 8 }) +
      okService("open", {
        auto_create_limit: OPEN_LIMIT,
        // High enough that the total limit and forgetting, not the per-minute limit, bound it.
        auto_create_per_minute: 600,
        idle_timeout: 1,
        auto_create_forget_after: 3,
        storage_persist: false,
      }) +
      okService("closed", { auto_create_allow: ["alice"] }),
  });
  const statuses = new Map<number, number>();
  let maxProcesses = 0;
  let maxEntries = 0;
  let sent = 0;
  const startedAt = performance.now();
  const randomId = (): string => `x${crypto.randomUUID().slice(0, 8)}`;
  const worker = async (w: number): Promise<void> => {
    while (sent < FLOOD_REQUESTS && performance.now() - startedAt < FLOOD_BUDGET_MS) {
      const i = sent++;
      const service = i % 2 === 0 ? "open" : "closed";
      const res = await rawRequest(d.port, `${randomId()}.${service}.localhost`, "/", {
        headers: { "x-forwarded-for": `10.${w}.${(i >> 8) & 255}.${i & 255}` },
        timeoutMs: 20_000,
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const sampler = (async () => {
    while (sent < FLOOD_REQUESTS && performance.now() - startedAt < FLOOD_BUDGET_MS) {
      const rows = await d.instances();
      maxProcesses = Math.max(maxProcesses, rows.filter((r) => r.pid !== null).length);
      maxEntries = Math.max(maxEntries, rows.length);
      await sleep(250);
    }
  })();
  await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, (_, w) => worker(w)));
  await sampler;
  const floodMs = Math.round(performance.now() - startedAt);
  const rows = await psAll(d);
  const dirs = [
    ...await namesIn(`${d.dataDir}/open`),
    ...await namesIn(`${d.dataDir}/closed`),
  ];
  print(
    `flood: ${sent} requests in ${floodMs} ms, statuses ${JSON.stringify([...statuses])}; ` +
      `max ${maxProcesses} processes, max ${maxEntries} entries; after: ${rows.length} entries, ` +
      `${rows.filter((r) => r.pid !== null).length} processes, ${dirs.length} data dirs`,
  );
  equal(sent, FLOOD_REQUESTS, "the flood finished within its time budget");
  ok(maxProcesses <= 8, `max_awake bounds processes: ${maxProcesses}`);
  ok(maxEntries <= OPEN_LIMIT, `auto_create_limit bounds entries: ${maxEntries}`);
  ok(rows.length <= OPEN_LIMIT && dirs.length <= OPEN_LIMIT, `${rows.length} / ${dirs.length}`);
  equal(rows.filter((r) => r.service === "closed").length, 0, "the allow list created nothing");
  equal(statuses.get(404), FLOOD_REQUESTS / 2, "every random id of the closed service is 404");

  // Unused, they are forgotten (and their data dirs removed): the budget is free again.
  await waitFor(async () => (await psAll(d)).length === 0, {
    timeoutMs: 20_000,
    what: "the random instances to be forgotten",
  });
  equal((await namesIn(`${d.dataDir}/open`)).length, 0);
  equal((await d.request("alice.closed.localhost", "/")).status, 200);
  equal((await d.request("bob.open.localhost", "/")).status, 200);
  deepEqual((await psAll(d)).map((r) => r.id).sort(), ["closed:alice", "open:bob"]);
});

Deno.test("a client over its creation or wake rate gets 429 with Retry-After and starts nothing", async () => {
  await using d = await startDaemon({
    config: settingsBlock({
      trusted_proxies: ["127.0.0.1"],
      auto_create_rate_per_client: "3/min",
      wake_rate_per_client: "2/min",
    }) + okService("notes"),
  });
  const from = (client: string) => ({ headers: { "x-forwarded-for": client } });
  for (const id of ["a", "b", "c"]) {
    equal((await d.request(`${id}.notes.localhost`, "/", from("198.51.100.1"))).status, 200);
  }
  const refused = await d.request("d.notes.localhost", "/", from("198.51.100.1"));
  equal(refused.status, 429, refused.body);
  const retryAfter = Number(refused.headers.get("retry-after"));
  ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
  equal(rowOf(await psAll(d), "notes:d"), undefined, "nothing created");
  // Another client may create it.
  equal((await d.request("d.notes.localhost", "/", from("198.51.100.2"))).status, 200);

  for (const id of ["a", "b", "c"]) equal((await d.ten(["stop", `notes:${id}`])).code, 0);
  for (const id of ["a", "b"]) {
    equal((await d.request(`${id}.notes.localhost`, "/", from("203.0.113.9"))).status, 200);
  }
  const tooMany = await d.request("c.notes.localhost", "/", from("203.0.113.9"));
  equal(tooMany.status, 429, tooMany.body);
  ok(Number(tooMany.headers.get("retry-after")) >= 1);
  equal(rowOf(await psAll(d), "notes:c")?.status, "stopped", "not woken");
  // Requests to awake instances are not wakes: never limited.
  for (let i = 0; i < 5; i++) {
    equal((await d.request("a.notes.localhost", "/", from("203.0.113.9"))).status, 200);
  }
});
