/**
 * Forgetting an instance (`ten rm`): it leaves the instance table and the store, and with
 * `purge` its data dir goes too.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { instanceDir } from "../core/instance_dir.ts";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import { notifyChanged } from "./instance_entry.ts";
import { ownSocketDir } from "./launch_spec.ts";
import type { InstanceTable } from "./instance_table.ts";
import type { LiveConfig } from "./live_config.ts";
import type { InstanceFiles, InstanceUsers, StateRepo } from "./ports.ts";
import type { Runner } from "./runner.ts";

const log = getLogger(["tenement", "supervisor"]);

/** What forgetting needs. */
export interface ForgetDeps {
  readonly live: LiveConfig;
  readonly table: InstanceTable;
  readonly runner: Runner;
  readonly files: InstanceFiles;
  readonly repo: StateRepo;
  /** Frees a purged instance's uid (`user = "auto"`); a plain forget keeps it with the data. */
  readonly users?: InstanceUsers | undefined;
}

/** Options of {@linkcode forgetInstance}. */
export interface ForgetOptions {
  /** Also delete the instance's data dir. */
  readonly purge: boolean;
  /** Check and report only; change nothing. */
  readonly dryRun: boolean;
}

/** What {@linkcode forgetInstance} did (or, for a dry run, would do). */
export interface ForgetResult {
  readonly key: string;
  /** The instance's data dir `{data_dir}/{service}/{id}`. */
  readonly dataDir: string;
  /** True when the data dir was deleted (with `purge`). */
  readonly isPurged: boolean;
  /** True when the data dir existed (before a purge). */
  readonly hadDataDir: boolean;
}

/**
 * Forgets an instance that is not running (stopped, failed or asleep): it leaves the table
 * and the store (weight, origin, everything), so `ps --all` no longer lists it and a daemon
 * restart does not bring it back. With `purge` its data dir `{data_dir}/{service}/{id}` is
 * deleted first (a symlink there is removed, never followed); when that fails the instance
 * stays known, so the purge can be retried. Throws NotFoundError when unknown and
 * ConflictError when it runs, is starting or is restarting. A request can create it anew
 * where its service's auto_create allows.
 */
export async function forgetInstance(
  deps: ForgetDeps,
  ref: InstanceRef,
  options: ForgetOptions,
): Promise<ForgetResult> {
  const { table, runner, files, repo } = deps;
  const entry = table.require(ref);
  using _lock = await runner.locks.acquire(entry.key);
  if (entry.isForgotten) throw new NotFoundError(`Instance not found: ${formatInstanceKey(ref)}`);
  const kind = entry.state.kind;
  if (entry.handle || !(kind === "stopped" || kind === "asleep" || kind === "failed")) {
    const what = kind === "backoff" ? "restarting after a crash" : "running";
    throw new ConflictError(`${entry.key} is ${what}: ten stop ${entry.key} first`);
  }
  if (entry.activeRequests + entry.waitingRequests > 0) {
    throw new ConflictError(`${entry.key} is being woken by a request: try again`);
  }
  const dataDir = instanceDir(deps.live.current.settings.dataDir, entry.service, entry.id);
  const hadDataDir = await files.exists(dataDir);
  const result = { key: entry.key, dataDir, isPurged: options.purge && hadDataDir, hadDataDir };
  if (options.dryRun) return result;
  if (options.purge) {
    await files.removeDir(dataDir);
    const svc = deps.live.service(entry.service) ?? entry.definition;
    const socketDir = svc && ownSocketDir(svc, entry.id, deps.live.current.settings.dataDir);
    if (socketDir !== undefined) await files.removeDir(socketDir);
  }
  // No write of the record may follow the delete: the flag stops new ones, and the delete is
  // queued behind those already made.
  entry.isForgotten = true;
  const forgotten = entry.persistChain.then(() => repo.forgetInstance(entry.service, entry.id));
  entry.persistChain = forgotten.catch(() => {});
  try {
    await forgotten;
  } catch (err: unknown) {
    entry.isForgotten = false;
    throw err;
  }
  // Its data dir is gone, so nothing needs its uid any more.
  if (options.purge) await deps.users?.release(entry.service, entry.id);
  runner.dropRetry(entry);
  table.remove(entry);
  runner.metrics?.forgotten?.(entry.service, entry.id);
  notifyChanged(entry);
  log.info("Forgot {key}{purged}", {
    key: entry.key,
    purged: result.isPurged ? ` and deleted ${dataDir}` : "",
  });
  return result;
}
