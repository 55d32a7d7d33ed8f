/**
 * The log writer worker: owns the write connection of the log database and runs, one at a
 * time and in the order posted, the batch inserts and retention passes the main thread sends
 * (see log_writer.ts), so a big batch or a long retention delete never stalls the daemon's
 * event loop. Loaded with a static `new URL(…, import.meta.url)`; `deno compile` embeds it
 * through `--include`.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { openLogDb } from "./log_db.ts";
import { writeBatch } from "./log_batch.ts";
import { enforceRetention } from "./log_retention.ts";
import type { WorkerReply, WorkerRequest } from "./log_writer.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let db: DatabaseSync | undefined;

scope.onmessage = (event) => {
  const request = event.data;
  switch (request.kind) {
    case "open":
      // Thrown on purpose when the database cannot be opened: the main thread sees the worker
      // die and writes on its own connection instead.
      db = openLogDb(request.path);
      return;
    case "write":
      try {
        scope.postMessage({
          kind: "written",
          job: request.job,
          ids: writeBatch(db!, request.batch),
        });
      } catch (err) {
        scope.postMessage({ kind: "failed", job: request.job, error: String(err) });
      }
      return;
    case "retain":
      try {
        const deleted = enforceRetention(db!, request.policy, request.nowMs);
        scope.postMessage({ kind: "retained", job: request.job, deleted });
      } catch (err) {
        scope.postMessage({ kind: "failed", job: request.job, error: String(err) });
      }
      return;
    case "close": {
      db?.close();
      db = undefined;
      // Wakes the main thread, which waits for this synchronously while it shuts down.
      const flag = new Int32Array(request.done);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      scope.close();
      return;
    }
  }
};
