/**
 * One batch of log rows as plain column arrays (cheap to post to the writer worker) and the
 * transaction that stores it. Shared by the worker and the main-thread fallback writer.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Where a line came from: the app's stdout or stderr, or tenement itself (lifecycle). */
export type LogLevel = "stdout" | "stderr" | "event";

/** Rows to insert, column by column; every array has the same length. */
export interface LogBatch {
  /** Unix ms. */
  readonly ts: number[];
  readonly level: LogLevel[];
  readonly service: string[];
  readonly instance: string[];
  readonly message: string[];
  /** Accounted size of each row (message bytes plus overhead). */
  readonly bytes: number[];
}

/** An empty batch to fill. */
export function emptyBatch(): LogBatch {
  return { ts: [], level: [], service: [], instance: [], message: [], bytes: [] };
}

/** Prepared insert of one connection, made once. */
const inserts = new WeakMap<DatabaseSync, StatementSync>();

/**
 * Inserts `batch` in one transaction and returns the new row ids, in order. On an error the
 * transaction is rolled back and the error thrown: nothing of the batch is stored.
 */
export function writeBatch(db: DatabaseSync, batch: LogBatch): number[] {
  let insert = inserts.get(db);
  if (insert === undefined) {
    insert = db.prepare(
      "INSERT INTO logs (ts, level, service, instance, message, bytes) VALUES (?, ?, ?, ?, ?, ?)",
    );
    inserts.set(db, insert);
  }
  const ids: number[] = [];
  try {
    db.exec("BEGIN");
    for (let i = 0; i < batch.ts.length; i++) {
      const { lastInsertRowid } = insert.run(
        batch.ts[i]!,
        batch.level[i]!,
        batch.service[i]!,
        batch.instance[i]!,
        batch.message[i]!,
        batch.bytes[i]!,
      );
      ids.push(Number(lastInsertRowid));
    }
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
  return ids;
}
