/**
 * Retention of the log database: rows older than the age limit go, and while the database is
 * over its size budget the oldest rows of the instances holding the most bytes go first
 * ("water-filling"), so one chatty tenant cannot evict everyone else's history. Freed pages are
 * returned with an incremental vacuum so the file does not grow forever.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** How long and how much the store keeps. */
export interface RetentionPolicy {
  /** Rows older than this are deleted; 0: no age limit. @default {0} */
  readonly retentionMs?: number;
  /** Database size budget in bytes; 0: no limit. @default {0} */
  readonly maxSizeBytes?: number;
}

/** Rows deleted per statement, so a long cleanup never holds the writer for long. */
const CHUNK_ROWS = 5_000;

/** Applies `policy` at `nowMs`; returns the number of rows deleted. */
export function enforceRetention(
  db: DatabaseSync,
  policy: RetentionPolicy,
  nowMs: number,
): number {
  let deleted = 0;
  const retentionMs = policy.retentionMs ?? 0;
  if (retentionMs > 0) {
    const old = db.prepare(
      "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE ts < ? ORDER BY id LIMIT ?)",
    );
    for (;;) {
      const changes = Number(old.run(nowMs - retentionMs, CHUNK_ROWS).changes);
      deleted += changes;
      if (changes < CHUNK_ROWS) break;
    }
  }
  const maxSizeBytes = policy.maxSizeBytes ?? 0;
  if (maxSizeBytes > 0) {
    const used = usedBytes(db);
    if (used > maxSizeBytes) {
      // Down to 90% of the budget, so the next few batches do not trigger it again.
      const share = (used - maxSizeBytes * 0.9) / used;
      deleted += trimFairly(db, share);
    }
  }
  if (deleted > 0) {
    db.exec("DELETE FROM instance_bytes WHERE bytes <= 0");
    db.exec("INSERT INTO logs_fts (logs_fts, rank) VALUES ('merge', 500)");
    db.exec("PRAGMA incremental_vacuum");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return deleted;
}

/** Bytes of the pages in use (the file minus its free list). */
export function usedBytes(db: DatabaseSync): number {
  const pages = db.prepare("PRAGMA page_count").get() as { page_count: number };
  const free = db.prepare("PRAGMA freelist_count").get() as { freelist_count: number };
  const size = db.prepare("PRAGMA page_size").get() as { page_size: number };
  return (pages.page_count - free.freelist_count) * size.page_size;
}

/**
 * Deletes `share` (0..1) of the accounted bytes, the oldest rows of the biggest instances first:
 * every instance above a level L is cut down to L, and instances below it lose nothing.
 */
function trimFairly(db: DatabaseSync, share: number): number {
  const instances = db.prepare(
    "SELECT service, instance, bytes FROM instance_bytes WHERE bytes > 0 ORDER BY bytes DESC",
  ).all() as { service: string; instance: string; bytes: number }[];
  const total = instances.reduce((sum, row) => sum + row.bytes, 0);
  const toFree = total * Math.min(1, share);
  const level = waterLevel(instances.map((row) => row.bytes), toFree);
  let deleted = 0;
  for (const row of instances) {
    if (row.bytes <= level) break;
    deleted += deleteOldest(db, row.service, row.instance, row.bytes - level);
  }
  return deleted;
}

/**
 * The level L such that cutting every size in `sizesDesc` (sorted, biggest first) above L down
 * to L frees `toFree`.
 */
export function waterLevel(sizesDesc: readonly number[], toFree: number): number {
  let sumAbove = 0;
  for (let k = 0; k < sizesDesc.length; k++) {
    sumAbove += sizesDesc[k]!;
    const level = (sumAbove - toFree) / (k + 1);
    const next = sizesDesc[k + 1] ?? 0;
    if (level >= next) return Math.max(0, level);
  }
  return 0;
}

/** Deletes the oldest rows of one instance until at least `bytes` are freed. */
function deleteOldest(db: DatabaseSync, service: string, instance: string, bytes: number): number {
  const pick = db.prepare(
    "SELECT id, bytes FROM logs WHERE service = ? AND instance = ? ORDER BY id LIMIT ?",
  );
  const remove = db.prepare("DELETE FROM logs WHERE service = ? AND instance = ? AND id <= ?");
  let freed = 0;
  let deleted = 0;
  while (freed < bytes) {
    const rows = pick.all(service, instance, CHUNK_ROWS) as { id: number; bytes: number }[];
    if (rows.length === 0) break;
    let lastId = 0;
    for (const row of rows) {
      freed += row.bytes;
      lastId = row.id;
      if (freed >= bytes) break;
    }
    deleted += Number(remove.run(service, instance, lastId).changes);
  }
  return deleted;
}
