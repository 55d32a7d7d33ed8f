/**
 * The main thread's side of the log writer: posts batches and retention passes to a worker
 * (log_writer_worker.ts) that owns the write connection, and hands the results back in order.
 * If the worker dies, its unfinished batches are reported as failed (the store counts them as
 * dropped), it is logged once and restarted; after {@linkcode MAX_WORKER_RESTARTS} deaths, or
 * for an in-memory database, the writes run on the main thread's connection instead.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { type LogBatch, writeBatch } from "./log_batch.ts";
import { enforceRetention, type RetentionPolicy } from "./log_retention.ts";

const log = getLogger(["tenement", "logs"]);

/** What the main thread asks the worker. */
export type WorkerRequest =
  | { readonly kind: "open"; readonly path: string }
  | { readonly kind: "write"; readonly job: number; readonly batch: LogBatch }
  | {
    readonly kind: "retain";
    readonly job: number;
    readonly policy: RetentionPolicy;
    readonly nowMs: number;
  }
  /** The worker closes the database, then sets `done[0]` to 1 and notifies it. */
  | { readonly kind: "close"; readonly done: SharedArrayBuffer };

/** What the worker answers, one reply per `write` or `retain` job. */
export type WorkerReply =
  | { readonly kind: "written"; readonly job: number; readonly ids: number[] }
  | { readonly kind: "retained"; readonly job: number; readonly deleted: number }
  | { readonly kind: "failed"; readonly job: number; readonly error: string };

/** Worker deaths after which writes move to the main thread for good. */
export const MAX_WORKER_RESTARTS = 3;

/** Longest wait for the worker to write its last batches when the store closes. */
const CLOSE_TIMEOUT_MS = 10_000;

/** Options of {@linkcode LogWriter}. */
export interface LogWriterOptions {
  /** The database file; ":memory:" writes on `db` (a worker cannot share it). */
  readonly path: string;
  /** The main thread's connection: the fallback writer. */
  readonly db: DatabaseSync;
  /** Called once per written batch, in order, with the new row ids. */
  readonly onWritten: (batch: LogBatch, ids: readonly number[]) => void;
  /** Called when a batch could not be written (nothing of it is stored, or it is unknown). */
  readonly onFailed: (batch: LogBatch, error: unknown) => void;
  /** The worker module; tests pass a broken one. @default {"./log_writer_worker.ts"} */
  readonly workerUrl?: string;
  /** False: write on the main thread (to compare, in bench/log_writer.ts). @default {true} */
  readonly isOffThread?: boolean;
  /** Longest wait for the worker's last batches at close. @default {10000} */
  readonly closeTimeoutMs?: number;
}

type Job =
  | { readonly kind: "write"; readonly batch: LogBatch }
  | { readonly kind: "retain"; readonly policy: RetentionPolicy; readonly nowMs: number };

/** Runs log writes off the main thread, one job at a time, in order. */
export class LogWriter {
  readonly #options: LogWriterOptions;
  #worker: Worker | undefined;
  /** Jobs posted and not answered yet, oldest first. */
  readonly #jobs = new Map<number, Job>();
  #lastJob = 0;
  #waiters: { job: number; resolve: () => void }[] = [];
  #deaths = 0;
  #isClosed = false;

  constructor(options: LogWriterOptions) {
    this.#options = options;
    if (options.path !== ":memory:" && options.isOffThread !== false) this.#startWorker();
  }

  /** True while writes go to a worker (false: on the main thread). */
  get isOffThread(): boolean {
    return this.#worker !== undefined;
  }

  /** Batches posted and not written yet. */
  get pendingWrites(): number {
    let count = 0;
    for (const job of this.#jobs.values()) if (job.kind === "write") count++;
    return count;
  }

  /** True while a retention pass is posted and not done. */
  get isRetaining(): boolean {
    for (const job of this.#jobs.values()) if (job.kind === "retain") return true;
    return false;
  }

  /** Queues `batch`; `onWritten` or `onFailed` tells how it went. */
  write(batch: LogBatch): void {
    this.#post({ kind: "write", batch });
  }

  /** Queues a retention pass at `nowMs`. */
  retain(policy: RetentionPolicy, nowMs: number): void {
    this.#post({ kind: "retain", policy, nowMs });
  }

  /** Resolves once every job posted before the call is done (or failed). */
  idle(): Promise<void> {
    const job = this.#lastJob;
    if (this.#isDone(job)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ job, resolve }));
  }

  /**
   * Waits (synchronously: it runs at shutdown, where nothing else may run first) until the worker
   * wrote every posted batch and closed its connection, then ends it.
   */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    const worker = this.#worker;
    if (worker === undefined) {
      for (const id of [...this.#jobs.keys()]) this.#runHere(id);
    } else {
      const done = new SharedArrayBuffer(4);
      worker.postMessage({ kind: "close", done } satisfies WorkerRequest);
      const timeoutMs = this.#options.closeTimeoutMs ?? CLOSE_TIMEOUT_MS;
      if (Atomics.wait(new Int32Array(done), 0, 0, timeoutMs) === "timed-out") {
        log.warn("The log writer did not finish its last {count} batches within {ms} ms", {
          count: this.pendingWrites,
          ms: timeoutMs,
        });
        // Dead or stuck: whether they were stored is unknown, so they count as dropped.
        const error = new Error("not written before the log store closed");
        for (const job of this.#jobs.values()) {
          if (job.kind === "write") this.#options.onFailed(job.batch, error);
        }
      }
      worker.terminate();
      this.#worker = undefined;
    }
    // Their answers will never be read: the store is closing.
    this.#jobs.clear();
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
  }

  #post(job: Job): void {
    if (this.#isClosed) return;
    const id = ++this.#lastJob;
    this.#jobs.set(id, job);
    if (this.#worker === undefined) {
      // Still answered later, like the worker's replies, so callers see one behaviour.
      queueMicrotask(() => this.#runHere(id));
      return;
    }
    this.#worker.postMessage(
      (job.kind === "write" ? { kind: "write", job: id, batch: job.batch } : {
        kind: "retain",
        job: id,
        policy: job.policy,
        nowMs: job.nowMs,
      }) satisfies WorkerRequest,
    );
  }

  #startWorker(): void {
    const url = this.#options.workerUrl ??
      new URL("./log_writer_worker.ts", import.meta.url).href;
    let worker: Worker;
    try {
      worker = new Worker(url, { type: "module" });
    } catch (err) {
      // A build without the worker module embedded: write here rather than not at all.
      log.error("Cannot start the log writer worker ({error}); writing logs on the main thread", {
        error: err,
      });
      return;
    }
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#onReply(event.data);
    worker.onerror = (event: ErrorEvent) => {
      // Handled here: an error in the worker must not take the daemon down.
      event.preventDefault();
      if (this.#worker === worker) this.#onWorkerDied(worker, event.message);
    };
    worker.onmessageerror = () => {
      if (this.#worker === worker) this.#onWorkerDied(worker, "a reply could not be read");
    };
    worker.postMessage({ kind: "open", path: this.#options.path } satisfies WorkerRequest);
    this.#worker = worker;
  }

  #onWorkerDied(worker: Worker, reason: string): void {
    worker.terminate();
    this.#worker = undefined;
    this.#deaths++;
    const isGivingUp = this.#deaths > MAX_WORKER_RESTARTS;
    if (this.#deaths === 1 || isGivingUp) {
      log.error("The log writer worker failed ({reason}); {action}", {
        reason,
        action: isGivingUp ? "writing logs on the main thread from now on" : "restarting it",
      });
    }
    // Whether they were stored is unknown: they count as dropped.
    const error = new Error(`The log writer worker failed: ${reason}`);
    for (const [id, job] of [...this.#jobs]) {
      this.#jobs.delete(id);
      if (job.kind === "write") this.#options.onFailed(job.batch, error);
    }
    if (!isGivingUp && !this.#isClosed) this.#startWorker();
    this.#settle();
  }

  #onReply(reply: WorkerReply): void {
    const job = this.#jobs.get(reply.job);
    if (job === undefined) return;
    this.#jobs.delete(reply.job);
    if (reply.kind === "failed") {
      if (job.kind === "write") this.#options.onFailed(job.batch, new Error(reply.error));
      else log.warn("Log retention failed: {error}", { error: reply.error });
    } else if (reply.kind === "written" && job.kind === "write") {
      this.#options.onWritten(job.batch, reply.ids);
    }
    this.#settle();
  }

  /** Runs job `id` on the main thread's connection (no worker). */
  #runHere(id: number): void {
    const job = this.#jobs.get(id);
    if (job === undefined) return;
    this.#jobs.delete(id);
    const { db } = this.#options;
    if (job.kind === "write") {
      let ids: number[];
      try {
        ids = writeBatch(db, job.batch);
      } catch (err) {
        this.#options.onFailed(job.batch, err);
        this.#settle();
        return;
      }
      this.#options.onWritten(job.batch, ids);
    } else {
      try {
        enforceRetention(db, job.policy, job.nowMs);
      } catch (err) {
        log.warn("Log retention failed: {error}", { error: err });
      }
    }
    this.#settle();
  }

  #isDone(job: number): boolean {
    const first = this.#jobs.keys().next();
    return first.done === true || first.value > job;
  }

  #settle(): void {
    const ready = this.#waiters.filter((waiter) => this.#isDone(waiter.job));
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => !this.#isDone(waiter.job));
    for (const waiter of ready) waiter.resolve();
  }
}
