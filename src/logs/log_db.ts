/**
 * Opens the log database (`node:sqlite`): WAL, incremental auto-vacuum, numbered migrations, an
 * FTS5 index kept in sync with the `logs` table by triggers, and per-instance byte totals (also
 * kept by triggers) that size-based retention reads without scanning.
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** Bytes a row costs beyond its message (columns, row and index overhead), for accounting. */
export const ROW_OVERHEAD_BYTES = 64;

/** Schema steps, in order; `PRAGMA user_version` counts the ones applied. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE logs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     ts INTEGER NOT NULL,
     level TEXT NOT NULL,
     service TEXT NOT NULL,
     instance TEXT NOT NULL,
     message TEXT NOT NULL,
     bytes INTEGER NOT NULL
   );
   CREATE INDEX logs_by_instance ON logs (service, instance, id);
   CREATE INDEX logs_by_instance_nocase ON logs (instance COLLATE NOCASE, id);
   CREATE INDEX logs_by_ts ON logs (ts);
   CREATE TABLE instance_bytes (
     service TEXT NOT NULL,
     instance TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     PRIMARY KEY (service, instance)
   ) WITHOUT ROWID;
   CREATE VIRTUAL TABLE logs_fts USING fts5(message, content='logs', content_rowid='id');
   CREATE TRIGGER logs_added AFTER INSERT ON logs BEGIN
     INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
     INSERT INTO instance_bytes (service, instance, bytes)
       VALUES (new.service, new.instance, new.bytes)
       ON CONFLICT (service, instance) DO UPDATE SET bytes = bytes + excluded.bytes;
   END;
   CREATE TRIGGER logs_removed AFTER DELETE ON logs BEGIN
     INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
     UPDATE instance_bytes SET bytes = bytes - old.bytes
       WHERE service = old.service AND instance = old.instance;
   END;`,
];

/** Opens (creating, mode 0600) and migrates the log database at `path`. */
export function openLogDb(path: string): DatabaseSync {
  if (path !== ":memory:") {
    // Created here first so it is private from its first byte; SQLite gives -wal and -shm the
    // database file's mode.
    Deno.openSync(path, { create: true, write: true, mode: 0o600 }).close();
    Deno.chmodSync(path, 0o600);
  }
  const db = new DatabaseSync(path);
  try {
    // auto_vacuum only takes effect before the first table exists.
    db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA busy_timeout = 1000");
    const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
    for (let step = row.user_version; step < MIGRATIONS.length; step++) {
      db.exec("BEGIN");
      db.exec(MIGRATIONS[step]!);
      db.exec(`PRAGMA user_version = ${step + 1}`);
      db.exec("COMMIT");
    }
  } catch (err) {
    db.close();
    throw new Error(`Cannot open the log database ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return db;
}
