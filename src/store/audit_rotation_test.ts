/** The audit trail in a real KV store: bounded in count and in age. */
import { deepEqual, equal } from "node:assert/strict";
import { AUDIT_MAX_AGE_MS, StateStore } from "./state_store.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

async function withStore(run: (store: StateStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tenement-audit-" });
  try {
    using store = await StateStore.open(`${dir}/tenement.kv`);
    await run(store);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function entry(atMs: number, target: string) {
  return { atMs, actor: "admin", action: "spawn", target, outcome: "ok" as const, details: "" };
}

Deno.test("appendAudit() drops entries older than 90 days", async () => {
  await withStore(async (store) => {
    const now = Date.UTC(2026, 10, 29);
    await store.appendAudit(entry(now - 100 * DAY_MS, "notes:ancient"));
    await store.appendAudit(entry(now - 89 * DAY_MS, "notes:recent"));
    await store.appendAudit(entry(now, "notes:now"));
    deepEqual((await store.listAudit(10)).map((e) => e.target), ["notes:recent", "notes:now"]);
    equal(AUDIT_MAX_AGE_MS, 90 * DAY_MS);
  });
});

Deno.test("rotateAudit() keeps the newest entries up to the count limit", async () => {
  await withStore(async (store) => {
    const now = Date.UTC(2026, 10, 29);
    for (let i = 0; i < 25; i++) await store.appendAudit(entry(now + i, `notes:i${i}`));
    await store.rotateAudit(now + 25, { maxEntries: 10 });
    const kept = (await store.listAudit(100)).map((e) => e.target);
    deepEqual(kept, Array.from({ length: 10 }, (_, i) => `notes:i${i + 15}`));
    // The running count stays right: the next rotation trims exactly the excess again.
    await store.appendAudit(entry(now + 30, "notes:next"));
    await store.rotateAudit(now + 31, { maxEntries: 10 });
    const after = (await store.listAudit(100)).map((e) => e.target);
    equal(after.length, 10);
    equal(after.at(-1), "notes:next");
    equal(after[0], "notes:i16");
  });
});
