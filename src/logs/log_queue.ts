/**
 * The log store's in-memory queue: lines waiting for the writer, bounded in bytes per instance
 * and overall. Over a budget the oldest lines go (from the instance queuing the most, for the
 * overall one) and are counted; the next batch carries a notice where they were. Batches are
 * taken in append order. No I/O.
 * @module
 */
import { formatInstanceKey, type InstanceKey } from "../core/instance_key.ts";
import { ROW_OVERHEAD_BYTES } from "./log_db.ts";
import { emptyBatch, type LogBatch, type LogLevel } from "./log_batch.ts";

/** Budgets and hooks of a {@linkcode LogQueue}. */
export interface LogQueueOptions {
  /** @default {1 MiB} */
  readonly bytesPerInstance?: number;
  /** @default {16 MiB} */
  readonly bytesTotal?: number;
  readonly now: () => number;
  /** Lines of an instance dropped since its last notice, told when the notice is batched. */
  readonly onDropped: (service: string, id: string, lines: number) => void;
}

interface Pending {
  readonly seq: number;
  readonly ts: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly bytes: number;
  readonly queue: InstanceQueue;
  /** Dropped from its instance's queue: skipped when a batch is taken. */
  isDropped: boolean;
}

interface InstanceQueue {
  readonly service: string;
  readonly id: string;
  items: Pending[];
  bytes: number;
  dropped: number;
}

/** Lines waiting to be written, per instance and in append order. */
export class LogQueue {
  readonly #options: LogQueueOptions;
  readonly #queues = new Map<InstanceKey, InstanceQueue>();
  /** Every queued line in append order (dropped ones marked), from `#orderHead` on. */
  #order: Pending[] = [];
  #orderHead = 0;
  #bytes = 0;
  #lines = 0;
  #seq = 0;
  #takenSeq = 0;

  constructor(options: LogQueueOptions) {
    this.#options = options;
  }

  /** Lines queued (not dropped, not taken). */
  get lines(): number {
    return this.#lines;
  }

  /** The number the next line gets: lines are numbered in append order from 0. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** Every line numbered below this was taken into a batch or dropped. */
  get takenSeq(): number {
    return this.#takenSeq;
  }

  /** True when there is something to take: lines, or a drop notice. */
  get hasWork(): boolean {
    if (this.#lines > 0) return true;
    for (const queue of this.#queues.values()) if (queue.dropped > 0) return true;
    return false;
  }

  /** Queues a message of `bytes` stored bytes, dropping the oldest lines over the budgets. */
  push(service: string, id: string, level: LogLevel, message: string, bytes: number): void {
    const key = formatInstanceKey({ service, id });
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = { service, id, items: [], bytes: 0, dropped: 0 };
      this.#queues.set(key, queue);
    }
    const seq = this.#seq++;
    const item: Pending = {
      seq,
      ts: this.#options.now(),
      level,
      message,
      bytes,
      queue,
      isDropped: false,
    };
    queue.items.push(item);
    this.#order.push(item);
    queue.bytes += bytes;
    this.#bytes += bytes;
    this.#lines++;
    const perInstance = this.#options.bytesPerInstance ?? 1 << 20;
    while (queue.bytes > perInstance && queue.items.length > 1) this.#dropOldest(queue);
    const total = this.#options.bytesTotal ?? 16 << 20;
    while (this.#bytes > total) {
      // The instance queuing the most loses its oldest lines first: one chatty tenant cannot
      // push everyone else's lines out.
      let biggest = queue;
      for (const q of this.#queues.values()) if (q.bytes > biggest.bytes) biggest = q;
      if (biggest.items.length === 0) break;
      this.#dropOldest(biggest);
    }
  }

  #dropOldest(queue: InstanceQueue): void {
    const item = queue.items.shift()!;
    item.isDropped = true;
    queue.bytes -= item.bytes;
    this.#bytes -= item.bytes;
    this.#lines--;
    queue.dropped++;
  }

  /**
   * Takes the oldest `maxLines` queued lines, in append order, with a notice before an
   * instance's lines where some of its lines were dropped.
   */
  take(maxLines: number): LogBatch {
    const batch = emptyBatch();
    const order = this.#order;
    while (this.#orderHead < order.length && batch.ts.length < maxLines) {
      const item = order[this.#orderHead++]!;
      if (item.isDropped) continue;
      const { queue } = item;
      // Not dropped, so the oldest line of its instance.
      queue.items.shift();
      queue.bytes -= item.bytes;
      this.#bytes -= item.bytes;
      this.#lines--;
      if (queue.dropped > 0) this.#addDropNotice(batch, queue);
      addRow(batch, queue, item);
    }
    while (this.#orderHead < order.length && order[this.#orderHead]!.isDropped) this.#orderHead++;
    if (this.#orderHead === order.length) {
      this.#order = [];
      this.#orderHead = 0;
      // Instances that lost every queued line still get their notice.
      for (const queue of this.#queues.values()) {
        if (queue.dropped > 0) this.#addDropNotice(batch, queue);
      }
    } else if (this.#orderHead > 4096 && this.#orderHead * 2 > order.length) {
      this.#order = order.slice(this.#orderHead);
      this.#orderHead = 0;
    }
    this.#takenSeq = this.#order[this.#orderHead]?.seq ?? this.#seq;
    for (const [key, queue] of this.#queues) {
      if (queue.items.length === 0 && queue.dropped === 0) this.#queues.delete(key);
    }
    return batch;
  }

  #addDropNotice(batch: LogBatch, queue: InstanceQueue): void {
    const message = `tenement: ${queue.dropped} log lines dropped (the log writer fell behind)`;
    this.#options.onDropped(queue.service, queue.id, queue.dropped);
    queue.dropped = 0;
    addRow(batch, queue, {
      ts: this.#options.now(),
      level: "event",
      message,
      bytes: message.length + ROW_OVERHEAD_BYTES,
    });
  }
}

function addRow(
  batch: LogBatch,
  queue: InstanceQueue,
  item: Pick<Pending, "ts" | "level" | "message" | "bytes">,
): void {
  batch.ts.push(item.ts);
  batch.level.push(item.level);
  batch.service.push(queue.service);
  batch.instance.push(queue.id);
  batch.message.push(item.message);
  batch.bytes.push(item.bytes);
}
