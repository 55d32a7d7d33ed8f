/**
 * The persistent log store: every instance's lines and lifecycle events in SQLite with an FTS5
 * index. `append` only queues (bounded in bytes per instance and overall, oldest dropped and
 * counted: log_queue.ts), so an app's pipe is never blocked; a timer posts the queue as one batch to the writer
 * worker (log_writer.ts), which writes it in one transaction off the event loop, then the stored
 * rows (with their ids) go to live subscribers. Retention by age and size runs periodically in
 * the worker too (see log_retention.ts). Queries read on the main thread's connection (WAL lets
 * them run beside the writer) and see the lines written so far: `await flush()` first to see
 * every line appended before.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { formatInstanceKey, type InstanceKey } from "../core/instance_key.ts";
import { openLogDb, ROW_OVERHEAD_BYTES } from "./log_db.ts";
import { buildFtsQuery } from "./log_search.ts";
import { capLineBytes } from "./line_cap.ts";
import type { RetentionPolicy } from "./log_retention.ts";
import type { LogBatch, LogLevel } from "./log_batch.ts";
import { LogQueue } from "./log_queue.ts";
import { LogWriter } from "./log_writer.ts";

export type { LogLevel } from "./log_batch.ts";

const log = getLogger(["tenement", "logs"]);

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
  /** Only these services (any case): a narrowed tenant's scope, applied in SQL first. */
  readonly scopeServices?: readonly string[];
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
  /** The writer worker module (tests pass a broken one). @default {"./log_writer_worker.ts"} */
  readonly writerWorkerUrl?: string;
  /** False: write on the main thread, as before the worker (for comparisons). @default {true} */
  readonly isWritingOffThread?: boolean;
  /** Longest wait at close for the writer's last batches. @default {10000} */
  readonly writerCloseTimeoutMs?: number;
}

/** Most lines posted to the writer at once, so preparing a batch never holds the loop long. */
const BATCH_MAX_LINES = 5_000;

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
  readonly #writer: LogWriter;
  readonly #queue: LogQueue;
  readonly #dropped = new Map<InstanceKey, number>();
  readonly #subscribers = new Set<Subscriber>();
  /**
   * The newest row handed to subscribers. Queries read only up to it, so a query followed by a
   * subscription (the SSE resume) neither misses a row nor sees one twice.
   */
  #publishedId: number;
  /** Set when the queue should be posted as soon as the writer is free. */
  #isDue = false;
  #isClosed = false;
  #soonTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #flushTimer: ReturnType<typeof setInterval>;
  readonly #retentionTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(db: DatabaseSync, path: string, options: LogStoreOptions) {
    this.#db = db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#queue = new LogQueue({
      ...(options.queueBytesPerInstance === undefined
        ? {}
        : { bytesPerInstance: options.queueBytesPerInstance }),
      ...(options.queueBytesTotal === undefined ? {} : { bytesTotal: options.queueBytesTotal }),
      now: this.#now,
      onDropped: (service, id, lines) => {
        const key = formatInstanceKey({ service, id });
        this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + lines);
        options.metrics?.dropped(service, id, lines);
      },
    });
    const row = db.prepare("SELECT max(id) AS id FROM logs").get() as { id: number | null };
    this.#publishedId = row.id ?? 0;
    this.#writer = new LogWriter({
      path,
      db,
      onWritten: (batch, ids) => this.#onWritten(batch, ids),
      onFailed: (batch, error) => this.#onFailed(batch, error),
      ...(options.writerWorkerUrl === undefined ? {} : { workerUrl: options.writerWorkerUrl }),
      isOffThread: options.isWritingOffThread ?? true,
      ...(options.writerCloseTimeoutMs === undefined
        ? {}
        : { closeTimeoutMs: options.writerCloseTimeoutMs }),
    });
    this.#flushTimer = setInterval(() => {
      this.#isDue = true;
      this.#post();
    }, options.flushIntervalMs ?? 200);
    Deno.unrefTimer(this.#flushTimer);
    const every = options.retentionIntervalMs ?? 60_000;
    if (every > 0) {
      const timer = setInterval(() => this.#retain(), every);
      Deno.unrefTimer(timer);
      this.#retentionTimer = timer;
    }
  }

  /** Opens (or creates) the store at `path` and starts a retention pass. */
  static open(path: string, options: LogStoreOptions = {}): LogStore {
    const store = new LogStore(openLogDb(path), path, options);
    store.#retain();
    return store;
  }

  /** True while writes run in the worker (false: on the main thread, after it kept failing). */
  get isWritingOffThread(): boolean {
    return this.#writer.isOffThread;
  }

  /** Queues a line; never blocks and never throws. */
  append(service: string, id: string, stream: LogLevel, line: string): void {
    if (this.#isClosed) return;
    const message = capLineBytes(line, this.#options.maxLineBytes ?? 16_384);
    const bytes = message.bytes + ROW_OVERHEAD_BYTES;
    this.#queue.push(service, id, stream, message.message, bytes);
    if (this.#queue.lines >= (this.#options.flushLines ?? 500) && this.#soonTimer === undefined) {
      this.#soonTimer = setTimeout(() => {
        this.#soonTimer = undefined;
        this.#isDue = true;
        this.#post();
      }, 0);
    }
  }

  /** Lines dropped so far (queue full or write failed), by instance. */
  droppedLines(): ReadonlyMap<InstanceKey, number> {
    return this.#dropped;
  }

  /**
   * Writes every line appended so far; resolves once they are stored and handed to subscribers
   * (or counted as dropped), so a query after it sees them.
   */
  async flush(): Promise<void> {
    const target = this.#queue.nextSeq;
    while (!this.#isClosed && this.#queue.takenSeq < target) {
      this.#isDue = true;
      this.#post();
      if (this.#queue.takenSeq >= target) break;
      await this.#writer.idle();
    }
    await this.#writer.idle();
  }

  /** Posts the oldest queued lines as one batch when it is due and the writer is free. */
  #post(force = false): void {
    if (!force && (!this.#isDue || this.#writer.pendingWrites > 0)) return;
    const batch = this.#queue.take(BATCH_MAX_LINES);
    if (batch.ts.length > 0) this.#writer.write(batch);
    // What did not fit goes right after this batch.
    this.#isDue = this.#queue.hasWork;
  }

  #onWritten(batch: LogBatch, ids: readonly number[]): void {
    if (ids.length === 0) return this.#afterBatch();
    const metrics = this.#options.metrics;
    if (metrics !== undefined) {
      const counts = new Map<InstanceKey, { service: string; id: string; lines: number }>();
      for (let i = 0; i < ids.length; i++) {
        const service = batch.service[i]!;
        const id = batch.instance[i]!;
        const key = formatInstanceKey({ service, id });
        const count = counts.get(key);
        if (count === undefined) counts.set(key, { service, id, lines: 1 });
        else count.lines++;
      }
      for (const { service, id, lines } of counts.values()) metrics.written(service, id, lines);
    }
    this.#publishedId = ids[ids.length - 1]!;
    if (this.#subscribers.size > 0) {
      const entries = ids.map((id, i): LogEntry => ({
        timestamp: batch.ts[i]!,
        level: batch.level[i]!,
        process: batch.service[i]!,
        instance_id: batch.instance[i]!,
        message: batch.message[i]!,
        id,
      }));
      this.#publish(entries);
    }
    this.#afterBatch();
  }

  #onFailed(batch: LogBatch, error: unknown): void {
    log.warn("Cannot write {count} log lines: {error}", { count: batch.ts.length, error });
    for (let i = 0; i < batch.ts.length; i++) {
      const service = batch.service[i]!;
      const id = batch.instance[i]!;
      const key = formatInstanceKey({ service, id });
      this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + 1);
      this.#options.metrics?.dropped(service, id, 1);
    }
    this.#afterBatch();
  }

  /** The writer is free again: lines that piled up meanwhile go next. */
  #afterBatch(): void {
    if (this.#queue.lines >= (this.#options.flushLines ?? 500)) this.#isDue = true;
    this.#post();
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
   * `limit` after it. Sees the rows written so far (lines are written every 200 ms or 500
   * lines): `await flush()` first to see every line appended before.
   * @throws {InvalidInputError} for a search that is not valid (see log_search.ts).
   */
  query(query: LogQuery): LogEntry[] {
    const fts = query.search === undefined ? undefined : buildFtsQuery(query.search);
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (sql: string, value: string | number): void => {
      where.push(sql);
      params.push(value);
    };
    if (query.scopeInstance !== undefined) add("instance = ? COLLATE NOCASE", query.scopeInstance);
    if (query.scopeServices !== undefined) {
      // The limit counts only rows the caller may read: the scope is not a filter after it.
      where.push(
        `service COLLATE NOCASE IN (${query.scopeServices.map(() => "?").join(", ")})`,
      );
      params.push(...query.scopeServices);
    }
    if (query.process !== undefined) add("service = ?", query.process);
    if (query.id !== undefined) add("instance = ?", query.id);
    if (query.level !== undefined) add("level = ?", query.level);
    if (query.sinceMs !== undefined) add("ts >= ?", query.sinceMs);
    if (query.untilMs !== undefined) add("ts <= ?", query.untilMs);
    if (query.afterId !== undefined) add("id > ?", query.afterId);
    if (fts !== undefined) add("id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)", fts);
    // Newer rows are on their way to the subscribers.
    add("id <= ?", this.#publishedId);
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

  /**
   * Deletes rows past the retention age and, over the size budget, from the biggest instances,
   * in the writer; resolves when done.
   */
  enforceRetention(): Promise<void> {
    this.#retain();
    return this.#writer.idle();
  }

  #retain(): void {
    // One pass at a time: a slow pass must not pile up more behind it.
    if (this.#isClosed || this.#writer.isRetaining) return;
    const { retentionMs = 0, maxSizeBytes = 0 } = this.#options;
    this.#writer.retain({ retentionMs, maxSizeBytes }, this.#now());
  }

  /**
   * Writes the queue, waits for the writer to store it and ends the writer, then closes the
   * database: the last lines survive a shutdown.
   */
  [Symbol.dispose](): void {
    if (this.#isClosed) return;
    clearInterval(this.#flushTimer);
    clearInterval(this.#retentionTimer);
    clearTimeout(this.#soonTimer);
    while (this.#queue.hasWork) this.#post(true);
    this.#isClosed = true;
    this.#writer.close();
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
  if (
    query.scopeServices !== undefined &&
    !query.scopeServices.some((s) => s.toLowerCase() === entry.process.toLowerCase())
  ) return false;
  if (query.scope !== undefined && !query.scope(entry.process, entry.instance_id)) return false;
  if (query.process !== undefined && entry.process !== query.process) return false;
  if (query.id !== undefined && entry.instance_id !== query.id) return false;
  if (query.level !== undefined && entry.level !== query.level) return false;
  return true;
}
