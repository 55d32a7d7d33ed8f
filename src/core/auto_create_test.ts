import { deepEqual } from "node:assert/strict";
import { type AutoCreateRules, judgeAutoCreate } from "./auto_create.ts";

const RULES: AutoCreateRules = {
  autoCreate: true,
  autoCreateAllow: [],
  autoCreateLimit: 3,
  autoCreatePerMinute: 2,
};
const FRESH = { createdCount: 0, createdAtMs: [], nowMs: 100_000 };

Deno.test("judgeAutoCreate() refuses every id when auto-create is off", () => {
  deepEqual(judgeAutoCreate({ ...RULES, autoCreate: false }, "a", FRESH), { kind: "not_allowed" });
});

Deno.test("judgeAutoCreate() with an allow list admits only the ids on it", () => {
  const rules = { ...RULES, autoCreateAllow: ["alice", "bob"] };
  deepEqual(judgeAutoCreate(rules, "alice", FRESH), { kind: "allowed", createdAtMs: [100_000] });
  deepEqual(judgeAutoCreate(rules, "mallory", FRESH), { kind: "not_allowed" });
});

Deno.test("judgeAutoCreate() stops at the total limit, however old the creations", () => {
  deepEqual(judgeAutoCreate(RULES, "d", { ...FRESH, createdCount: 3 }), {
    kind: "limit_reached",
    createdCount: 3,
  });
  deepEqual(judgeAutoCreate(RULES, "c", { ...FRESH, createdCount: 2 }).kind, "allowed");
});

Deno.test("judgeAutoCreate() limits creations per minute in a sliding window", () => {
  const nowMs = FRESH.nowMs;
  deepEqual(judgeAutoCreate(RULES, "c", { ...FRESH, createdAtMs: [nowMs - 1_000, nowMs - 500] }), {
    kind: "rate_limited",
  });
  // One of the two is older than a minute: it no longer counts, and is dropped from the history.
  deepEqual(judgeAutoCreate(RULES, "c", { ...FRESH, createdAtMs: [nowMs - 60_000, nowMs - 500] }), {
    kind: "allowed",
    createdAtMs: [nowMs - 500, nowMs],
  });
});
