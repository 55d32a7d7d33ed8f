/**
 * Owns background tasks: each gets the group's signal; disposing the group aborts them all and
 * waits for them, so no promise floats.
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["tenement", "tasks"]);

/** A set of named background tasks that end together. */
export class TaskGroup implements AsyncDisposable {
  #controller = new AbortController();
  #tasks = new Set<Promise<void>>();

  /** The signal every task receives. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts `task`; its rejection is logged with `name` unless the group was aborted. */
  run(name: string, task: (signal: AbortSignal) => Promise<void>): void {
    const signal = this.#controller.signal;
    const p = (async () => {
      try {
        await task(signal);
      } catch (err: unknown) {
        // Tasks end by abort when the group or their own run is cancelled: that is not a failure.
        const isAbort = err instanceof DOMException && err.name === "AbortError";
        if (!signal.aborted && !isAbort) {
          log.error("Task {name} failed: {err}", { name, err: String(err) });
        }
      }
    })();
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  /** Aborts every task's signal without waiting. */
  abort(): void {
    this.#controller.abort(new DOMException("Shutting down", "AbortError"));
  }

  /** Aborts every task and waits until all have ended. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#controller.abort(new DOMException("Shutting down", "AbortError"));
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
