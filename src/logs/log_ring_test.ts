import { deepEqual, equal } from "node:assert/strict";
import { type LogEntry, LogRing } from "./log_ring.ts";

/** A ring whose clock advances by 1 ms per line, so order is unambiguous. */
function ticking(perInstance?: number): LogRing {
  let nowMs = 1000;
  return new LogRing({ ...(perInstance === undefined ? {} : { perInstance }), now: () => nowMs++ });
}

const messages = (entries: LogEntry[]): string[] => entries.map((e) => e.message);

Deno.test("LogRing.append() records the entry in the API's shape", () => {
  const ring = new LogRing({ now: () => 1234 });
  ring.append("notes", "alice", "stderr", "boom");
  deepEqual(ring.query({}), [
    { timestamp: 1234, level: "stderr", process: "notes", instance_id: "alice", message: "boom" },
  ]);
});

Deno.test("LogRing keeps the newest perInstance lines of each instance separately", () => {
  const ring = ticking(3);
  ring.append("notes", "quiet", "stdout", "quiet 1");
  for (let i = 1; i <= 10; i++) ring.append("notes", "chatty", "stdout", `chatty ${i}`);
  ring.append("other", "chatty", "stdout", "other service, same id");
  deepEqual(messages(ring.query({ id: "chatty", process: "notes" })), [
    "chatty 8",
    "chatty 9",
    "chatty 10",
  ]);
  deepEqual(messages(ring.query({ id: "quiet" })), ["quiet 1"]);
  deepEqual(messages(ring.query({ process: "other" })), ["other service, same id"]);
});

Deno.test("LogRing.query() filters by process, id, level and case-insensitive search", async (t) => {
  const ring = ticking();
  ring.append("notes", "alice", "stdout", "Listening on 30001");
  ring.append("notes", "alice", "stderr", "WARN slow query");
  ring.append("notes", "bob", "stdout", "listening on 30002");
  ring.append("wiki", "alice", "stderr", "fatal: no db");
  const cases: [name: string, query: Parameters<LogRing["query"]>[0], expected: string[]][] = [
    ["no filter", {}, [
      "Listening on 30001",
      "WARN slow query",
      "listening on 30002",
      "fatal: no db",
    ]],
    ["process", { process: "notes" }, [
      "Listening on 30001",
      "WARN slow query",
      "listening on 30002",
    ]],
    ["id across services", { id: "alice" }, [
      "Listening on 30001",
      "WARN slow query",
      "fatal: no db",
    ]],
    ["process and id", { process: "notes", id: "alice" }, [
      "Listening on 30001",
      "WARN slow query",
    ]],
    ["level", { level: "stderr" }, ["WARN slow query", "fatal: no db"]],
    ["search ignores case", { search: "LISTENING" }, ["Listening on 30001", "listening on 30002"]],
    ["search is a plain substring", { search: "o." }, []],
    ["everything", { process: "notes", id: "alice", level: "stderr", search: "slow" }, [
      "WARN slow query",
    ]],
    ["unknown process", { process: "nope" }, []],
  ];
  for (const [name, query, expected] of cases) {
    await t.step(name, () => deepEqual(messages(ring.query(query)), expected));
  }
});

Deno.test("LogRing.query() with a limit returns the newest entries, oldest first", () => {
  const ring = ticking();
  for (let i = 1; i <= 5; i++) ring.append("notes", i % 2 ? "odd" : "even", "stdout", `line ${i}`);
  deepEqual(messages(ring.query({ limit: 2 })), ["line 4", "line 5"]);
  deepEqual(messages(ring.query({ limit: 100 })), [
    "line 1",
    "line 2",
    "line 3",
    "line 4",
    "line 5",
  ]);
  deepEqual(messages(ring.query({ limit: 0 })), []);
  deepEqual(messages(ring.query({ id: "odd", limit: 2 })), ["line 3", "line 5"]);
});

Deno.test("LogRing.query() orders lines of different instances by time", () => {
  const times = [3000, 1000, 2000, 4000];
  let i = 0;
  const ring = new LogRing({ now: () => times[i++]! });
  ring.append("a", "1", "stdout", "third");
  ring.append("b", "1", "stdout", "first");
  ring.append("a", "1", "stdout", "second (clock stepped back)");
  ring.append("b", "1", "stdout", "fourth");
  deepEqual(messages(ring.query({})), ["first", "second (clock stepped back)", "third", "fourth"]);
});

Deno.test("LogRing.query() keeps append order for lines of different instances in the same ms", () => {
  const ring = new LogRing({ now: () => 5000 });
  ring.append("notes", "alice", "stdout", "a1");
  ring.append("notes", "bob", "stdout", "b1");
  ring.append("notes", "alice", "stdout", "a2");
  ring.append("notes", "bob", "stdout", "b2");
  deepEqual(messages(ring.query({})), ["a1", "b1", "a2", "b2"]);
  deepEqual(messages(ring.query({ limit: 1 })), ["b2"]);
});

Deno.test("LogRing.subscribe() delivers new matching lines until unsubscribed", () => {
  const ring = ticking();
  ring.append("notes", "alice", "stdout", "before subscribing");
  const seen: string[] = [];
  const unsubscribe = ring.subscribe({ id: "alice", level: "stderr" }, (e) => seen.push(e.message));
  ring.append("notes", "alice", "stderr", "match");
  ring.append("notes", "alice", "stdout", "wrong level");
  ring.append("notes", "bob", "stderr", "wrong id");
  ring.append("wiki", "alice", "stderr", "match in another service");
  unsubscribe();
  ring.append("notes", "alice", "stderr", "after unsubscribing");
  deepEqual(seen, ["match", "match in another service"]);
  // Unsubscribed lines are still kept for queries.
  equal(ring.query({ search: "after" }).length, 1);
});

Deno.test("LogRing.subscribe() applies search case-insensitively and supports many subscribers", () => {
  const ring = ticking();
  const errors: string[] = [];
  const all: string[] = [];
  const stopErrors = ring.subscribe({ search: "error" }, (e) => errors.push(e.message));
  const stopAll = ring.subscribe({}, (e) => all.push(e.message));
  ring.append("notes", "alice", "stdout", "ERROR one");
  ring.append("notes", "alice", "stdout", "fine");
  stopErrors();
  ring.append("notes", "alice", "stdout", "error two");
  stopAll();
  deepEqual(errors, ["ERROR one"]);
  deepEqual(all, ["ERROR one", "fine", "error two"]);
});

Deno.test("LogRing.append() still reaches other subscribers when one subscriber throws", () => {
  const ring = ticking();
  const seen: string[] = [];
  ring.subscribe({}, () => {
    throw new TypeError("stream closed");
  });
  ring.subscribe({}, (e) => seen.push(e.message));
  let escaped: unknown;
  try {
    ring.append("notes", "alice", "stdout", "hello");
  } catch (err: unknown) {
    escaped = err;
  }
  equal(
    escaped,
    undefined,
    "a subscriber's error escaped append() into the caller (the output pump)",
  );
  deepEqual(seen, ["hello"]);
});

Deno.test("LogRing bounds the total kept across many instances", () => {
  const ring = new LogRing({ perInstance: 2000, total: 1000, now: () => 0 });
  for (let i = 0; i < 50; i++) {
    for (let n = 0; n < 300; n++) ring.append("svc", `t${i}`, "stdout", `line ${n}`);
  }
  // 50 instances share 1000 lines, but each keeps at least its last 100.
  const kept = ring.query({ process: "svc", id: "t49" });
  equal(kept.length, 100);
  equal(kept.at(-1)?.message, "line 299");
  // The 4th instance filled up while 4 shared the budget: 1000 / 4 lines.
  equal(ring.query({ process: "svc", id: "t3" }).length, 250);
});

Deno.test("LogRing.query() applies the caller's scope per instance, before any line is searched", () => {
  const ring = ticking();
  for (let i = 0; i < 50; i++) {
    ring.append("notes", "alice", "stdout", `alice ${i}`);
    ring.append("notes", "bob", "stdout", `bob ${i} needle`);
  }
  ring.append("notes", "alice", "stdout", "alice needle");
  const asked: string[] = [];
  const scope = (process: string, id: string): boolean => {
    asked.push(`${process}:${id}`);
    return id === "alice";
  };
  deepEqual(messages(ring.query({ search: "NEEDLE", scope })), ["alice needle"]);
  // Once per instance, not once per line: bob's 50 lines were never looked at.
  deepEqual(asked.sort(), ["notes:alice", "notes:bob"]);
  deepEqual(messages(ring.query({ limit: 2, scope: (_p, id) => id === "bob" })), [
    "bob 48 needle",
    "bob 49 needle",
  ]);
});

Deno.test("LogRing.subscribe() with a scope delivers only the lines in it", () => {
  const ring = ticking();
  const seen: string[] = [];
  const stop = ring.subscribe({ scope: (_p, id) => id === "alice" }, (e) => seen.push(e.message));
  ring.append("notes", "alice", "stdout", "mine");
  ring.append("notes", "bob", "stdout", "not mine");
  stop();
  equal(seen.join(","), "mine");
});
