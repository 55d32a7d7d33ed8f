import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { InvalidInputError } from "../core/errors.ts";
import { type LogEntry, LogStore, type LogStoreOptions } from "./log_store.ts";
import { usedBytes, waterLevel } from "./log_retention.ts";

async function withStore(
  options: LogStoreOptions,
  body: (store: LogStore, path: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ten-logs-" });
  try {
    using store = LogStore.open(`${dir}/logs.db`, { retentionIntervalMs: 0, ...options });
    await body(store, `${dir}/logs.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const messages = (entries: readonly LogEntry[]): string[] => entries.map((e) => e.message);

Deno.test("LogStore keeps lines in a private WAL SQLite file across reopen, with growing ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ten-logs-" });
  try {
    const path = `${dir}/logs.db`;
    {
      using store = LogStore.open(path, { now: () => 1234 });
      store.append("notes", "alice", "stdout", "first");
      store.append("notes", "alice", "event", "tenement: spawned");
    }
    equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    using store = LogStore.open(path, { now: () => 5678 });
    store.append("notes", "alice", "stderr", "after restart");
    await store.flush();
    const entries = store.query({});
    deepEqual(entries.map((e) => [e.id, e.timestamp, e.level, e.message]), [
      [1, 1234, "stdout", "first"],
      [2, 1234, "event", "tenement: spawned"],
      [3, 5678, "stderr", "after restart"],
    ]);
    deepEqual(Object.keys(entries[0]!), [
      "timestamp",
      "level",
      "process",
      "instance_id",
      "message",
      "id",
    ]);
    const db = new DatabaseSync(path, { readOnly: true });
    deepEqual({ ...db.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogStore.query() filters by process, id, level, time, scope and full-text search", async (t) => {
  let nowMs = 1000;
  await withStore({ now: () => nowMs++ }, async (store) => {
    store.append("notes", "alice", "stdout", "Listening on 30001");
    store.append("notes", "alice", "stderr", "WARN slow query took 900 ms");
    store.append("notes", "bob", "stdout", "connection refused by upstream");
    store.append("wiki", "Alice", "stderr", "fatal: no database connection");
    store.append("notes", "bob", "event", "tenement: ready in 12 ms");
    await store.flush();
    const cases: [string, Parameters<LogStore["query"]>[0], string[]][] = [
      ["process", { process: "wiki" }, ["fatal: no database connection"]],
      ["id", { process: "notes", id: "bob", level: "event" }, ["tenement: ready in 12 ms"]],
      ["since/until", { sinceMs: 1002, untilMs: 1003 }, [
        "WARN slow query took 900 ms",
        "connection refused by upstream",
      ]],
      ["word, any case", { search: "listening" }, ["Listening on 30001"]],
      ["phrase", { search: '"no database"' }, ["fatal: no database connection"]],
      ["words not in order are not the phrase", { search: '"database no"' }, []],
      ["prefix", { search: "conn*" }, [
        "connection refused by upstream",
        "fatal: no database connection",
      ]],
      ["NOT", { search: "connection NOT fatal" }, ["connection refused by upstream"]],
      ["OR", { search: "slow OR refused" }, [
        "WARN slow query took 900 ms",
        "connection refused by upstream",
      ]],
      ["AND by default", { search: "connection database" }, ["fatal: no database connection"]],
      ["parentheses", { search: "(slow OR fatal) AND query" }, ["WARN slow query took 900 ms"]],
      ["tenant scope in SQL, any case", { scopeInstance: "ALICE" }, [
        "Listening on 30001",
        "WARN slow query took 900 ms",
        "fatal: no database connection",
      ]],
      ["scope and search", { scopeInstance: "bob", search: "fatal" }, []],
      ["limit keeps the newest", { limit: 2 }, [
        "fatal: no database connection",
        "tenement: ready in 12 ms",
      ]],
      ["afterId keeps the oldest after it", { afterId: 3, limit: 1 }, [
        "fatal: no database connection",
      ]],
    ];
    for (const [name, query, expected] of cases) {
      await t.step(name, () => deepEqual(messages(store.query(query)), expected));
    }
  });
});

Deno.test("LogStore.query() never lets a search be an SQL or FTS5 syntax error", async () => {
  await withStore({}, async (store) => {
    store.append("notes", "alice", "stdout", 'say "hi" to message:x NEAR(a b) ^start col:val');
    await store.flush();
    const nasty = [
      '"',
      '""',
      '"unterminated',
      "'",
      "message:x",
      "col:val",
      "NEAR(a b)",
      "NEAR",
      "^start",
      "(",
      ")",
      "((a)",
      "a)",
      "AND",
      "OR OR",
      "NOT a",
      "a NOT",
      "a AND",
      "*",
      "**",
      "a**",
      "\0",
      "a\0b",
      "{a b}",
      "+a -b",
      "'; DROP TABLE logs; --",
      "x".repeat(10 * 1024),
      "a ".repeat(100),
      "日本語",
      "\u{1F600}",
      "-",
      ":",
    ];
    for (const search of nasty) {
      try {
        store.query({ search });
      } catch (err) {
        ok(err instanceof InvalidInputError, `${JSON.stringify(search.slice(0, 40))}: ${err}`);
        equal(err.field, "search");
      }
    }
    deepEqual(messages(store.query({ search: "message:x" })).length, 1);
    deepEqual(messages(store.query({ search: "NEAR" })).length, 1);
    deepEqual(messages(store.query({ search: '"hi"' })).length, 1);
    throws(() => store.query({ search: "(" }), /Invalid search: /);
    throws(() => store.query({ search: "NOT a" }), /NOT needs a term on each side/);
    equal(store.query({}).length, 1, "the table is still there");
  });
});

Deno.test("LogStore drops the oldest queued lines of an instance over its byte budget, counts them and says so", async () => {
  await withStore({ queueBytesPerInstance: 1000, flushIntervalMs: 60_000 }, async (store) => {
    store.append("notes", "quiet", "stdout", "still here");
    for (let i = 0; i < 100; i++) store.append("notes", "chatty", "stdout", `line ${i}`);
    const dropped = store.droppedLines().get("notes:chatty");
    equal(dropped, undefined, "counted when written");
    await store.flush();
    const count = store.droppedLines().get("notes:chatty")!;
    ok(count > 50 && count < 100, `${count}`);
    const chatty = store.query({ id: "chatty" });
    equal(chatty[0]!.level, "event");
    equal(chatty[0]!.message, `tenement: ${count} log lines dropped (the log writer fell behind)`);
    equal(chatty.at(-1)!.message, "line 99");
    equal(chatty.length, 100 - count + 1);
    deepEqual(messages(store.query({ id: "quiet" })), ["still here"]);
  });
});

Deno.test("LogStore's overall queue budget takes from the instance queuing the most", async () => {
  await withStore({ queueBytesTotal: 2000, flushIntervalMs: 60_000 }, async (store) => {
    for (let i = 0; i < 5; i++) store.append("notes", "quiet", "stdout", `quiet ${i}`);
    for (let i = 0; i < 200; i++) store.append("notes", "chatty", "stdout", `chatty ${i}`);
    await store.flush();
    equal(store.query({ id: "quiet" }).length, 5);
    ok((store.droppedLines().get("notes:chatty") ?? 0) > 100);
  });
});

Deno.test("LogStore cuts lines over the byte cap with a marker", async () => {
  await withStore({ maxLineBytes: 100 }, async (store) => {
    store.append("notes", "alice", "stdout", "é".repeat(200));
    await store.flush();
    const [entry] = store.query({});
    equal(entry!.message, `${"é".repeat(50)} [cut 300 bytes]`);
  });
});

Deno.test("LogStore retention deletes rows older than the age limit", async () => {
  let nowMs = 0;
  await withStore({ now: () => nowMs, retentionMs: 1000 }, async (store) => {
    store.append("notes", "alice", "stdout", "old");
    nowMs = 900;
    store.append("notes", "alice", "stdout", "newer");
    await store.flush();
    nowMs = 1500;
    await store.enforceRetention();
    deepEqual(messages(store.query({})), ["newer"]);
    deepEqual(messages(store.query({ search: "old" })), [], "gone from the index too");
  });
});

Deno.test("LogStore size retention trims the biggest instances first and reuses the space", async () => {
  await withStore({ flushLines: 1e6, queueBytesPerInstance: 1e8 }, async (store, path) => {
    const line = "x".repeat(400);
    for (let i = 0; i < 2; i++) {
      for (let n = 0; n < 4000; n++) store.append("notes", "chatty", "stdout", `${n} ${line}`);
      await store.flush();
    }
    for (const id of ["a", "b", "c"]) {
      for (let n = 0; n < 50; n++) store.append("notes", id, "stdout", `${id} ${n} ${line}`);
    }
    await store.flush();
    const db = new DatabaseSync(path, { readOnly: true });
    const before = usedBytes(db);
    db.close();
    using trimmed = LogStore.open(path, { maxSizeBytes: Math.floor(before / 2) });
    await trimmed.flush();
    for (const id of ["a", "b", "c"]) equal(trimmed.query({ id }).length, 50, id);
    const chatty = trimmed.query({ id: "chatty" });
    ok(chatty.length < 6000 && chatty.length > 1000, `${chatty.length}`);
    equal(chatty.at(-1)!.message.startsWith("3999 "), true, "the newest lines stay");
    const db2 = new DatabaseSync(path, { readOnly: true });
    const after = usedBytes(db2);
    db2.close();
    ok(after <= before / 2, `${after} <= ${before / 2}`);
  });
});

Deno.test("waterLevel() cuts the biggest down to a common level", () => {
  equal(waterLevel([100, 10, 10], 50), 50);
  equal(waterLevel([100, 60, 10], 60), 50);
  equal(waterLevel([10, 10], 100), 0);
});

Deno.test("LogStore.subscribe() gets stored lines with ids, filtered by full-text search", async () => {
  await withStore({}, async (store) => {
    const seen: LogEntry[] = [];
    const stop = store.subscribe(
      { search: "error NOT ignored", process: "notes" },
      (e) => seen.push(e),
    );
    store.append("notes", "alice", "stdout", "an error here");
    store.append("notes", "alice", "stdout", "an error ignored");
    store.append("wiki", "alice", "stdout", "an error elsewhere");
    store.append("notes", "alice", "stdout", "all fine");
    await store.flush();
    stop();
    store.append("notes", "alice", "stdout", "another error");
    await store.flush();
    deepEqual(seen.map((e) => [e.id, e.message]), [[1, "an error here"]]);
  });
});

Deno.test("LogStore writes the last queued lines when disposed: append, close, reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ten-logs-" });
  try {
    const path = `${dir}/logs.db`;
    {
      using store = LogStore.open(path, { flushIntervalMs: 60_000, flushLines: 1e6 });
      for (let i = 0; i < 3000; i++) store.append("notes", "alice", "stdout", `early ${i}`);
      // A batch in the worker's hands and more lines queued behind it when the store closes.
      const posted = store.flush();
      for (let i = 0; i < 2000; i++) store.append("notes", "alice", "stdout", `late ${i}`);
      store[Symbol.dispose]();
      await posted;
    }
    using store = LogStore.open(path);
    await store.flush();
    const entries = store.query({ id: "alice" });
    equal(entries.length, 5000);
    equal(entries.at(-1)!.message, "late 1999");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogStore survives a writer worker that keeps dying: drops counted, then writes on the main thread", async () => {
  const workerUrl = new URL("./testdata/crashing_log_writer_worker.ts", import.meta.url).href;
  await withStore({ writerWorkerUrl: workerUrl }, async (store) => {
    ok(store.isWritingOffThread);
    for (let i = 0; i < 20 && store.isWritingOffThread; i++) {
      store.append("notes", "alice", "stdout", `lost ${i}`);
      await store.flush();
    }
    equal(store.isWritingOffThread, false, "gave up on the worker");
    ok((store.droppedLines().get("notes:alice") ?? 0) >= 1, "the lost batch is counted");
    store.append("notes", "alice", "stdout", "kept");
    await store.flush();
    deepEqual(messages(store.query({ search: "kept" })), ["kept"]);
  });
});

Deno.test("LogStore counts the lines a stuck writer never wrote as dropped when it closes", async () => {
  const workerUrl = new URL("./testdata/stuck_log_writer_worker.ts", import.meta.url).href;
  const dir = await Deno.makeTempDir({ prefix: "ten-logs-" });
  try {
    const store = LogStore.open(`${dir}/logs.db`, {
      retentionIntervalMs: 0,
      writerWorkerUrl: workerUrl,
      writerCloseTimeoutMs: 200,
    });
    for (let i = 0; i < 3; i++) store.append("notes", "alice", "stdout", `never stored ${i}`);
    store[Symbol.dispose]();
    equal(store.droppedLines().get("notes:alice"), 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogStore: a query then a subscription see every row once, while the worker writes", async () => {
  await withStore({}, async (store) => {
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1000; i++) store.append("notes", "alice", "stdout", `r${round} ${i}`);
      const written = store.flush();
      const replay = store.query({ process: "notes" });
      const seen: number[] = [];
      const stop = store.subscribe({ process: "notes" }, (e) => seen.push(e.id));
      await written;
      stop();
      const ids = [...replay.map((e) => e.id), ...seen];
      deepEqual(ids, Array.from({ length: (round + 1) * 1000 }, (_, i) => i + 1), `round ${round}`);
    }
  });
});
