/**
 * The persistent log store: every instance's lines and lifecycle events in SQLite with an FTS5
 * index. `append` only queues (bounded in bytes per instance and overall, oldest dropped and
 * counted), so an app's pipe is never blocked; a timer writes the queue in one transaction, then
 * hands the stored rows (with their ids) to live subscribers. Retention by age and size runs
 * periodically (see log_retention.ts).
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { formatInstanceKey, type InstanceKey } from "../core/instance_key.ts";
import { openLogDb, ROW_OVERHEAD_BYTES } from "./log_db.ts";
import { buildFtsQuery } from "./log_search.ts";
import { capLineBytes } from "./line_cap.ts";
import { enforceRetention, type RetentionPolicy } from "./log_retention.ts";

const log = getLogger(["tenement", "logs"]);

/** Where a line came from: the app's stdout or stderr, or tenement itself (lifecycle). */
export type LogLevel = "stdout" | "stderr" | "event";

/** One stored line, in the API's key order (`id` last: it was added later). */
export interface LogEntry {
  /** Unix milliseconds. */
  readonly timestamp: number;
  readonly level: LogLevel;
  readonly process: string;
  readonly instance_id: string;
  readonly message: string;
  /** Row id: grows with every line, the SSE event id. */
  readonly id: number;
}

/** Filters of a log query or subscription. */
export interface LogQuery {
  readonly process?: string;
  readonly id?: string;
  readonly level?: LogLevel;
  /** Full-text search (see log_search.ts). */
  readonly search?: string;
  /** Newest N (oldest first); at most {@link MAX_QUERY_LIMIT}. */
  readonly limit?: number;
  /** Unix ms, inclusive. */
  readonly sinceMs?: number;
  /** Unix ms, inclusive. */
  readonly untilMs?: number;
  /** Only rows after this id, the oldest first (a resumed stream). */
  readonly afterId?: number;
  /** Only this instance id (any service, any case): a tenant's scope, applied in SQL first. */
  readonly scopeInstance?: string;
  /** The instances the caller may read, checked on every row too; undefined: all. */
  readonly scope?: (process: string, id: string) => boolean;
}

/** Most rows one query returns. */
export const MAX_QUERY_LIMIT = 10_000;

/** Counters the metrics read. */
export interface LogStoreMetrics {
  written(service: string, id: string, lines: number): void;
  dropped(service: string, id: string, lines: number): void;
}

/** Options of {@link LogStore.open}. */
export interface LogStoreOptions extends RetentionPolicy {
  readonly now?: () => number;
  /** @default {200} */
  readonly flushIntervalMs?: number;
  /** Queued lines that trigger a flush before the timer. @default {500} */
  readonly flushLines?: number;
  /** @default {1 MiB} */
  readonly queueBytesPerInstance?: number;
  /** @default {16 MiB} */
  readonly queueBytesTotal?: number;
  /** Longest stored message, in UTF-8 bytes. @default {16384} */
  readonly maxLineBytes?: number;
  /** How often retention runs; 0: only when asked. @default {60000} */
  readonly retentionIntervalMs?: number;
  readonly metrics?: LogStoreMetrics;
}

interface Pending {
  readonly seq: number;
  readonly ts: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly bytes: number;
}

interface InstanceQueue {
  readonly service: string;
  readonly id: string;
  items: Pending[];
  bytes: number;
  dropped: number;
}

interface Subscriber {
  readonly query: LogQuery;
  readonly fts: string | undefined;
  readonly onEntry: (entry: LogEntry) => void;
}

/** The log database with its write queue and live subscribers. Dispose to flush and close. */
export class LogStore implements Disposable {
  readonly #db: DatabaseSync;
  readonly #options: LogStoreOptions;
  readonly #now: () => number;
  readonly #insert: StatementSync;
  readonly #queues = new Map<InstanceKey, InstanceQueue>();
  readonly #dropped = new Map<InstanceKey, number>();
  readonly #subscribers = new Set<Subscriber>();
  #queuedBytes = 0;
  #queuedLines = 0;
  #seq = 0;
  #isClosed = false;
  #soonTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #flushTimer: ReturnType<typeof setInterval>;
  readonly #retentionTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(db: DatabaseSync, options: LogStoreOptions) {
    this.#db = db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#insert = db.prepare(
      "INSERT INTO logs (ts, level, service, instance, message, bytes) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#flushTimer = setInterval(() => this.flush(), options.flushIntervalMs ?? 200);
    Deno.unrefTimer(this.#flushTimer);
    const every = options.retentionIntervalMs ?? 60_000;
    if (every > 0) {
      const timer = setInterval(() => this.enforceRetention(), every);
      Deno.unrefTimer(timer);
      this.#retentionTimer = timer;
    }
  }

  /** Opens (or creates) the store at `path` and applies retention once. */
  static open(path: string, options: LogStoreOptions = {}): LogStore {
    const store = new LogStore(openLogDb(path), options);
    store.enforceRetention();
    return store;
  }

  /** Queues a line; never blocks and never throws. */
  append(service: string, id: string, stream: LogLevel, line: string): void {
    if (this.#isClosed) return;
    const message = capLineBytes(line, this.#options.maxLineBytes ?? 16_384);
    const bytes = message.bytes + ROW_OVERHEAD_BYTES;
    const key = formatInstanceKey({ service, id });
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = { service, id, items: [], bytes: 0, dropped: 0 };
      this.#queues.set(key, queue);
    }
    queue.items.push({ seq: this.#seq++, ts: this.#now(), level: stream, ...message, bytes });
    queue.bytes += bytes;
    this.#queuedBytes += bytes;
    this.#queuedLines++;
    const perInstance = this.#options.queueBytesPerInstance ?? 1 << 20;
    while (queue.bytes > perInstance && queue.items.length > 1) this.#dropOldest(queue);
    const total = this.#options.queueBytesTotal ?? 16 << 20;
    while (this.#queuedBytes > total) {
      // The instance queuing the most loses its oldest lines first: one chatty tenant cannot
      // push everyone else's lines out.
      let biggest = queue;
      for (const q of this.#queues.values()) if (q.bytes > biggest.bytes) biggest = q;
      if (biggest.items.length === 0) break;
      this.#dropOldest(biggest);
    }
    if (this.#queuedLines >= (this.#options.flushLines ?? 500) && this.#soonTimer === undefined) {
      this.#soonTimer = setTimeout(() => {
        this.#soonTimer = undefined;
        this.flush();
      }, 0);
    }
  }

  #dropOldest(queue: InstanceQueue): void {
    const item = queue.items.shift()!;
    queue.bytes -= item.bytes;
    this.#queuedBytes -= item.bytes;
    this.#queuedLines--;
    queue.dropped++;
  }

  /** Lines dropped so far (queue full or write failed), by instance. */
  droppedLines(): ReadonlyMap<InstanceKey, number> {
    return this.#dropped;
  }

  /** Writes the queued lines in one transaction and feeds subscribers. */
  flush(): void {
    if (this.#queuedLines === 0 && ![...this.#queues.values()].some((q) => q.dropped > 0)) return;
    const rows: { queue: InstanceQueue; item: Pending }[] = [];
    for (const queue of this.#queues.values()) {
      if (queue.dropped > 0) {
        const message = `tenement: ${queue.dropped} log lines dropped (the log writer fell behind)`;
        const key = formatInstanceKey(queue);
        this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + queue.dropped);
        this.#options.metrics?.dropped(queue.service, queue.id, queue.dropped);
        // Placed before the lines that survived, where the gap is.
        const seq = (queue.items[0]?.seq ?? this.#seq) - 0.5;
        const item = { seq, ts: this.#now(), level: "event" as const, message };
        rows.push({ queue, item: { ...item, bytes: message.length + ROW_OVERHEAD_BYTES } });
        queue.dropped = 0;
      }
      for (const item of queue.items) rows.push({ queue, item });
    }
    this.#queues.clear();
    this.#queuedBytes = 0;
    this.#queuedLines = 0;
    rows.sort((a, b) => a.item.seq - b.item.seq);
    const entries: LogEntry[] = [];
    try {
      this.#db.exec("BEGIN");
      for (const { queue, item } of rows) {
        const { lastInsertRowid } = this.#insert.run(
          item.ts,
          item.level,
          queue.service,
          queue.id,
          item.message,
          item.bytes,
        );
        entries.push({
          timestamp: item.ts,
          level: item.level,
          process: queue.service,
          instance_id: queue.id,
          message: item.message,
          id: Number(lastInsertRowid),
        });
      }
      this.#db.exec("COMMIT");
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      log.warn("Cannot write {count} log lines: {error}", { count: rows.length, error: err });
      for (const { queue } of rows) {
        const key = formatInstanceKey(queue);
        this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + 1);
        this.#options.metrics?.dropped(queue.service, queue.id, 1);
      }
      return;
    }
    for (const entry of entries) {
      this.#options.metrics?.written(entry.process, entry.instance_id, 1);
    }
    if (this.#subscribers.size > 0 && entries.length > 0) this.#publish(entries);
  }

  #publish(entries: readonly LogEntry[]): void {
    const first = entries[0]!.id;
    const last = entries[entries.length - 1]!.id;
    const hitsBySearch = new Map<string, Set<number>>();
    for (const subscriber of this.#subscribers) {
      let hits: Set<number> | undefined;
      if (subscriber.fts !== undefined) {
        hits = hitsBySearch.get(subscriber.fts);
        if (hits === undefined) {
          const rows = this.#db.prepare(
            "SELECT rowid FROM logs_fts WHERE logs_fts MATCH ? AND rowid BETWEEN ? AND ?",
          ).all(subscriber.fts, first, last) as { rowid: number }[];
          hits = new Set(rows.map((row) => row.rowid));
          hitsBySearch.set(subscriber.fts, hits);
        }
      }
      for (const entry of entries) {
        if (hits !== undefined && !hits.has(entry.id)) continue;
        if (!matches(entry, subscriber.query)) continue;
        try {
          subscriber.onEntry(entry);
        } catch {
          // A broken subscriber (a closed stream) must not stop the writer or the others.
          this.#subscribers.delete(subscriber);
          break;
        }
      }
    }
  }

  /**
   * Matching rows, oldest first: the newest `limit` of them, or with `afterId` the oldest
   * `limit` after it. Queued lines are written first, so a query sees every appended line.
   * @throws {InvalidInputError} for a search that is not valid (see log_search.ts).
   */
  query(query: LogQuery): LogEntry[] {
    const fts = query.search === undefined ? undefined : buildFtsQuery(query.search);
    this.flush();
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (sql: string, value: string | number): void => {
      where.push(sql);
      params.push(value);
    };
    if (query.scopeInstance !== undefined) add("instance = ? COLLATE NOCASE", query.scopeInstance);
    if (query.process !== undefined) add("service = ?", query.process);
    if (query.id !== undefined) add("instance = ?", query.id);
    if (query.level !== undefined) add("level = ?", query.level);
    if (query.sinceMs !== undefined) add("ts >= ?", query.sinceMs);
    if (query.untilMs !== undefined) add("ts <= ?", query.untilMs);
    if (query.afterId !== undefined) add("id > ?", query.afterId);
    if (fts !== undefined) add("id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)", fts);
    const limit = Math.min(query.limit ?? MAX_QUERY_LIMIT, MAX_QUERY_LIMIT);
    const order = query.afterId === undefined ? "DESC" : "ASC";
    const sql = `SELECT id, ts, level, service, instance, message FROM logs${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    } ORDER BY id ${order} LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...params, limit) as unknown as Row[];
    if (order === "DESC") rows.reverse();
    const entries = rows.map(entryOf);
    return query.scope === undefined
      ? entries
      : entries.filter((e) => query.scope!(e.process, e.instance_id));
  }

  /**
   * Calls `onEntry` for every new matching line (after it is stored) until the returned function
   * is called. @throws {InvalidInputError} for a search that is not valid.
   */
  subscribe(query: LogQuery, onEntry: (entry: LogEntry) => void): () => void {
    const fts = query.search === undefined ? undefined : buildFtsQuery(query.search);
    const subscriber: Subscriber = { query, fts, onEntry };
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  /** Deletes rows past the retention age and, over the size budget, from the biggest instances. */
  enforceRetention(): void {
    if (this.#isClosed) return;
    try {
      enforceRetention(this.#db, this.#options, this.#now());
    } catch (err) {
      log.warn("Log retention failed: {error}", { error: err });
    }
  }

  /** Flushes the queue and closes the database. */
  [Symbol.dispose](): void {
    if (this.#isClosed) return;
    clearInterval(this.#flushTimer);
    clearInterval(this.#retentionTimer);
    clearTimeout(this.#soonTimer);
    this.flush();
    this.#isClosed = true;
    this.#subscribers.clear();
    this.#db.close();
  }
}

interface Row {
  readonly id: number;
  readonly ts: number;
  readonly level: LogLevel;
  readonly service: string;
  readonly instance: string;
  readonly message: string;
}

function entryOf(row: Row): LogEntry {
  return {
    timestamp: row.ts,
    level: row.level,
    process: row.service,
    instance_id: row.instance,
    message: row.message,
    id: row.id,
  };
}

function matches(entry: LogEntry, query: LogQuery): boolean {
  if (
    query.scopeInstance !== undefined &&
    entry.instance_id.toLowerCase() !== query.scopeInstance.toLowerCase()
  ) return false;
  if (query.scope !== undefined && !query.scope(entry.process, entry.instance_id)) return false;
  if (query.process !== undefined && entry.process !== query.process) return false;
  if (query.id !== undefined && entry.instance_id !== query.id) return false;
  if (query.level !== undefined && entry.level !== query.level) return false;
  return true;
}
