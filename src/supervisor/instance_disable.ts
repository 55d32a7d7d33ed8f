/**
 * Disabling an instance (`ten disable`) and enabling it again (`ten enable`): a disabled instance
 * is stopped as by `ten stop` but keeps its data dir, no request wakes it, and spawn, restart and
 * deploy refuse it. The flag is part of the durable record, so it survives daemon restarts.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ConflictError } from "../core/errors.ts";
import type { InstanceRef } from "../core/instance_key.ts";
import {
  type InstanceEntry,
  type InstanceSnapshot,
  notifyChanged,
  snapshotOf,
} from "./instance_entry.ts";
import type { InstanceTable } from "./instance_table.ts";
import type { Runner } from "./runner.ts";

const log = getLogger(["tenement", "supervisor"]);

/** The reason a disabled instance shows in `ps --all`. */
export const DISABLED_REASON = "disabled by the operator";

/** What disabling and enabling need. */
export interface DisableDeps {
  readonly table: InstanceTable;
  readonly runner: Runner;
}

/** The instance after a disable or enable, and whether that changed anything. */
export interface DisableResult {
  readonly instance: InstanceSnapshot;
  /** False when it already was disabled (or enabled): nothing was done. */
  readonly isChanged: boolean;
}

/**
 * Throws ConflictError when `entry` is disabled: spawn, restart and deploy must not start it
 * (`notes:alice is disabled; ten enable notes:alice first`).
 */
export function refuseIfDisabled(entry: InstanceEntry | undefined): void {
  if (entry?.isDisabled !== true) return;
  throw new ConflictError(`${entry.key} is disabled; ten enable ${entry.key} first`);
}

/**
 * Disables an instance: it is stopped gracefully (SIGTERM, grace, SIGKILL), its data dir is kept
 * whatever `storage_persist` says (disabling is not deleting), and it stays stopped until
 * enabled. Idempotent. Throws NotFoundError when unknown.
 */
export async function disableInstance(
  deps: DisableDeps,
  ref: InstanceRef,
): Promise<DisableResult> {
  const entry = deps.table.require(ref);
  if (entry.isDisabled) return { instance: snapshotOf(entry), isChanged: false };
  // Set first: a wake that waits for the lock the stop holds finds it disabled and gives up.
  entry.isDisabled = true;
  notifyChanged(entry);
  await deps.runner.stop(entry, "stopped", DISABLED_REASON);
  log.info("Disabled {key}", { key: entry.key });
  deps.runner.event(entry, "disabled");
  return { instance: snapshotOf(entry), isChanged: true };
}

/**
 * Enables a disabled instance: it rests as stopped (it is not started), so the next request for
 * it wakes it. Idempotent. Throws NotFoundError when unknown.
 */
export async function enableInstance(
  deps: DisableDeps,
  ref: InstanceRef,
): Promise<DisableResult> {
  const { table, runner } = deps;
  const entry = table.require(ref);
  using _lock = await runner.locks.acquire(entry.key);
  if (!entry.isDisabled) return { instance: snapshotOf(entry), isChanged: false };
  entry.isDisabled = false;
  if (!entry.handle) runner.apply(entry, { kind: "stopped", rest: "stopped", reason: undefined });
  runner.persist(entry);
  notifyChanged(entry);
  log.info("Enabled {key}: it wakes on its next request", { key: entry.key });
  runner.event(entry, "enabled");
  return { instance: snapshotOf(entry), isChanged: true };
}
