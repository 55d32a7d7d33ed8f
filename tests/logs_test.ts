/**
 * Integration tests of persistent logs (issue 11): lines and lifecycle events are stored in
 * `{data_dir}/.tenement/logs.db`, survive a daemon restart, are searched in full text by
 * `ten logs`, filtered by time and level, streamed with resumable SSE ids, and a tenant token
 * reads only its own lines. Real `ten` against a real `ten serve`.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  apiSpawn,
  type Daemon,
  runTen,
  serviceBlock,
  settingsBlock,
  startDaemon,
  succeeded,
  waitFor,
} from "../testkit/mod.ts";
import type { LogEntryJson } from "../src/api/wire.ts";

/** Makes `key`'s app print `text` (to stdout, or stderr). */
async function say(d: Daemon, id: string, text: string, stream = "stdout"): Promise<void> {
  const path = `/say?text=${encodeURIComponent(text)}&stream=${stream}`;
  const res = await d.request(`${id}.talk.localhost`, path);
  equal(res.status, 200, res.body);
}

/** Messages `ten logs args…` prints (the text after `[LVL] key `). */
async function messages(d: Daemon, args: readonly string[]): Promise<string[]> {
  const res = succeeded(await d.ten(["logs", ...args]), `logs ${args.join(" ")}`);
  return res.stdout.split("\n").filter((l) => l !== "").map((l) =>
    l.replace(/^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d \[(OUT|ERR|EVT)\] \S+ /, "")
  );
}

const TALK = serviceBlock("talk", { fixture: "say.py", health: "/health" });

Deno.test("ten logs: full-text search, levels, time, events, tenant scope, SSE resume and a daemon restart", async (t) => {
  await using d = await startDaemon({ config: settingsBlock() + TALK });
  await apiSpawn(d, "talk", "alice");
  await apiSpawn(d, "talk", "bob");
  await say(d, "alice", "connection refused by upstream");
  await say(d, "alice", "WARN slow query took 900 ms");
  await say(d, "alice", "fatal: no database connection", "stderr");
  await say(d, "bob", "bob's secret connection");
  await waitFor(async () => (await messages(d, ["--search", "secret"])).length === 1, {
    what: "bob's line in the store",
  });

  await t.step("--search: words, phrases, prefixes, NOT, OR", async () => {
    const cases: [string, string[]][] = [
      ["refused", ["connection refused by upstream"]],
      ['"no database"', ["fatal: no database connection"]],
      ["conn* NOT fatal", ["connection refused by upstream"]],
      ["slow OR fatal", ["WARN slow query took 900 ms", "fatal: no database connection"]],
      ["connection upstream", ["connection refused by upstream"]],
      ["message:x NEAR ^x", []],
    ];
    for (const [search, expected] of cases) {
      deepEqual(
        (await messages(d, ["talk:alice", "--search", search])).filter((m) =>
          !m.startsWith("tenement:")
        ),
        expected,
        search,
      );
    }
    const bad = await d.ten(["logs", "--search", "(unbalanced"]);
    equal(bad.code, 1, bad.stderr);
    ok(bad.stderr.startsWith('Error: Invalid search: unbalanced "("'), bad.stderr);
  });

  await t.step("--level event shows the lifecycle", async () => {
    const events = await messages(d, ["talk:alice", "--level", "event"]);
    ok(events.some((m) => /^tenement: spawned \(pid \d+, port \d+\)$/.test(m)), events.join("\n"));
    ok(events.some((m) => /^tenement: ready in \d+ ms$/.test(m)), events.join("\n"));
    const json = JSON.parse(
      succeeded(await d.ten(["logs", "talk:alice", "--level", "event", "--json"]), "json").stdout,
    ) as LogEntryJson[];
    ok(json.every((e) => e.level === "event" && typeof e.id === "number"), JSON.stringify(json));
  });

  await t.step("--since and --until, and bad values are usage errors naming the flag", async () => {
    equal((await messages(d, ["talk:alice", "--search", "refused", "--since", "10m"])).length, 1);
    equal((await messages(d, ["talk:alice", "--search", "refused", "--until", "10m"])).length, 0);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    equal((await messages(d, ["talk:alice", "--since", future])).length, 0);
    for (const flag of ["--since", "--until"]) {
      const bad = await d.ten(["logs", flag, "yesterday"]);
      equal(bad.code, 2, bad.stderr);
      ok(
        bad.stderr.includes(`option '${flag} <when>' argument 'yesterday' is invalid`),
        bad.stderr,
      );
    }
  });

  await t.step("/api/logs answers bad parameters with a 400 naming the field", async () => {
    for (
      const [query, field] of [
        ["since=yesterday", "since"],
        ["until=12:00", "until"],
        ["level=info", "level"],
        ["limit=-1", "limit"],
        ["search=%22open", "search"],
        ["search=" + encodeURIComponent("a ".repeat(600)), "search"],
        ["search=NOT%20x", "search"],
      ]
    ) {
      const res = await d.api("GET", `/api/logs?${query}`);
      equal(res.status, 400, `${query}: ${res.body}`);
      equal((JSON.parse(res.body) as { field: string }).field, field, query);
    }
    const stream = await d.api("GET", "/api/logs/stream?search=%28");
    equal(stream.status, 400, stream.body);
  });

  await t.step("a tenant token reads only its own lines", async () => {
    const alice = await d.tenantToken("alice");
    const res = await d.apiAs(alice, "GET", "/api/logs?search=connection");
    equal(res.status, 200, res.body);
    const entries = JSON.parse(res.body) as LogEntryJson[];
    ok(entries.length >= 2);
    ok(entries.every((e) => e.instance_id === "alice"), res.body);
  });

  await t.step("the SSE stream sends row ids and resumes after Last-Event-ID", async () => {
    const all = JSON.parse(
      (await d.api("GET", "/api/logs?process=talk&id=alice")).body,
    ) as LogEntryJson[];
    const refused = all.find((e) => e.message === "connection refused by upstream")!;
    const res = await fetch(`${d.url}/api/logs/stream?process=talk&id=alice&level=stdout`, {
      headers: { authorization: `Bearer ${d.token}`, "last-event-id": String(refused.id) },
    });
    equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const live = say(d, "alice", "a live line after the resume");
    while (!text.includes("a live line after the resume")) {
      text += decoder.decode((await reader.read()).value);
    }
    await live;
    await reader.cancel();
    const events = text.split("\n\n").filter((e) => e.includes("data: "));
    const ids = events.map((e) => Number(/^id: (\d+)$/m.exec(e)?.[1]));
    const sent = events.map((e) => (JSON.parse(/^data: (.*)$/m.exec(e)![1]!) as LogEntryJson));
    deepEqual(sent.map((e) => e.message), [
      "WARN slow query took 900 ms",
      "a live line after the resume",
    ]);
    deepEqual(ids, sent.map((e) => e.id));
    ok(ids[0]! > refused.id);
  });

  await t.step(
    "-f shows recent matching lines, then live ones through the same search",
    async () => {
      await say(d, "alice", "tail history");
      const stop = new AbortController();
      const follow = runTen(
        [
          "--server",
          d.url,
          "--config",
          d.configPath,
          "logs",
          "talk:alice",
          "-f",
          "--search",
          "tail*",
        ],
        { cwd: d.dir, signal: stop.signal },
      );
      // The follower's start-up time is unknown: keep saying lines for a while, then stop it.
      for (let i = 0; i < 15; i++) {
        await say(d, "alice", `tailing live ${i}`);
        await say(d, "alice", `other live ${i}`);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      stop.abort();
      const lines = (await follow).stdout.split("\n").filter((l) => l !== "");
      ok(lines[0]?.endsWith("[OUT] talk:alice tail history"), lines.join("\n"));
      ok(lines.some((l) => l.endsWith("tailing live 14")), lines.join("\n"));
      ok(!lines.some((l) => l.includes("other live")), lines.join("\n"));
      equal(lines.filter((l) => l.endsWith("tailing live 14")).length, 1);
    },
  );

  await t.step("lines from before a daemon restart are still there", async () => {
    const before = await messages(d, ["talk:alice", "--search", "refused"]);
    // Said right before the shutdown, not waited for: the last batch is written on the way out.
    await say(d, "alice", "last words before shutdown");
    equal(await d.stop(), 0, d.stderr);
    await d.start();
    deepEqual(await messages(d, ["talk:alice", "--search", "refused"]), before);
    deepEqual(await messages(d, ["talk:alice", "--search", '"last words"']), [
      "last words before shutdown",
    ]);
    const stopped = await messages(d, ["talk:alice", "--level", "event", "--search", "stopped"]);
    ok(stopped.length >= 1, stopped.join("\n"));
    const mode = (await Deno.stat(`${d.dataDir}/.tenement/logs.db`)).mode! & 0o777;
    equal(mode, 0o600);
  });
});
