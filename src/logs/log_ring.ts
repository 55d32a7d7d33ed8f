/**
 * In-memory log tail: the last lines of every instance, one ring per instance so a chatty instance
 * cannot evict the others, plus live subscribers for `ten logs -f`.
 * @module
 */
import { formatInstanceKey } from "../core/instance_key.ts";

/** One captured line, in the API's key order. */
export interface LogEntry {
  /** Unix milliseconds. */
  readonly timestamp: number;
  readonly level: "stdout" | "stderr";
  readonly process: string;
  readonly instance_id: string;
  readonly message: string;
}

/** Filters of a log query. */
export interface LogQuery {
  readonly process?: string;
  readonly id?: string;
  readonly level?: "stdout" | "stderr";
  /** Case-insensitive substring of the message. */
  readonly search?: string;
  /** Newest N; undefined returns all kept entries. */
  readonly limit?: number;
  /**
   * The instances the caller may read (its token's scope): checked first, so other tenants'
   * lines are never searched, copied or sorted. Undefined: every instance.
   */
  readonly scope?: (process: string, id: string) => boolean;
}

/** An entry with its arrival order. */
interface Kept {
  readonly seq: number;
  readonly entry: LogEntry;
}

/** The kept lines of one instance. */
interface Ring {
  readonly service: string;
  readonly id: string;
  readonly items: Kept[];
}

/** Bounded per-instance rings. */
export class LogRing {
  readonly #perInstance: number;
  readonly #rings = new Map<string, Ring>();
  #seq = 0;
  readonly #subscribers = new Set<(entry: LogEntry) => void>();
  readonly #now: () => number;

  readonly #total: number;

  /**
   * @param options.perInstance most lines kept per instance. @default {2000}
   * @param options.total most lines kept overall: with many instances each keeps
   * `max(100, total / instances)`, so 1000 chatty tenants cannot exhaust memory. @default {50000}
   */
  constructor(options: { perInstance?: number; total?: number; now?: () => number } = {}) {
    this.#perInstance = options.perInstance ?? 2000;
    this.#total = options.total ?? 50_000;
    this.#now = options.now ?? Date.now;
  }

  /** Records a line. */
  append(service: string, id: string, stream: "stdout" | "stderr", line: string): void {
    const entry: LogEntry = {
      timestamp: this.#now(),
      level: stream,
      process: service,
      instance_id: id,
      message: line,
    };
    const key = formatInstanceKey({ service, id });
    let ring = this.#rings.get(key);
    if (!ring) {
      ring = { service, id, items: [] };
      this.#rings.set(key, ring);
    }
    const items = ring.items;
    items.push({ seq: this.#seq++, entry });
    const cap = Math.min(
      this.#perInstance,
      Math.max(100, Math.floor(this.#total / this.#rings.size)),
    );
    if (items.length > cap) items.splice(0, items.length - cap);
    for (const subscriber of this.#subscribers) {
      try {
        subscriber(entry);
      } catch {
        // A broken subscriber (a closed stream) must not stop capture or the other subscribers.
        this.#subscribers.delete(subscriber);
      }
    }
  }

  /** Matching entries, oldest first; with a limit, the newest `limit` of them. */
  query(query: LogQuery): LogEntry[] {
    const needle = query.search?.toLowerCase();
    const kept: Kept[] = [];
    for (const ring of this.#rings.values()) {
      // Whole instances out of scope, or not asked for, are skipped before any line is looked at.
      if (query.scope !== undefined && !query.scope(ring.service, ring.id)) continue;
      if (query.process !== undefined && ring.service !== query.process) continue;
      if (query.id !== undefined && ring.id !== query.id) continue;
      for (const item of ring.items) if (matches(item.entry, query, needle)) kept.push(item);
    }
    kept.sort((a, b) => a.entry.timestamp - b.entry.timestamp || a.seq - b.seq);
    const entries = kept.map((item) => item.entry);
    return query.limit === undefined
      ? entries
      : entries.slice(Math.max(0, entries.length - query.limit));
  }

  /** Calls `onEntry` for every new matching entry until the returned function is called. */
  subscribe(query: LogQuery, onEntry: (entry: LogEntry) => void): () => void {
    const needle = query.search?.toLowerCase();
    const { scope } = query;
    const subscriber = (entry: LogEntry): void => {
      if (scope !== undefined && !scope(entry.process, entry.instance_id)) return;
      if (matches(entry, query, needle)) onEntry(entry);
    };
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }
}

function matches(entry: LogEntry, query: LogQuery, needle: string | undefined): boolean {
  if (query.process !== undefined && entry.process !== query.process) return false;
  if (query.id !== undefined && entry.instance_id !== query.id) return false;
  if (query.level !== undefined && entry.level !== query.level) return false;
  if (needle !== undefined && !entry.message.toLowerCase().includes(needle)) return false;
  return true;
}
