/**
 * The durable record of an instance: what survives a daemon restart (desired state, origin,
 * restart count, and the process group for orphan clean-up), written in order per instance.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { messageOf } from "../core/errors.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import type { OrphanReaper, StateRepo, StoredInstance } from "./ports.ts";

const log = getLogger(["tenement", "supervisor"]);

/** Writes the entry's durable record (queued behind its previous writes). */
export function persistEntry(entry: InstanceEntry, repo: StateRepo, reaper: OrphanReaper): void {
  const handle = entry.handle;
  const record: StoredInstance = {
    service: entry.service,
    id: entry.id,
    desired: entry.desired,
    origin: entry.origin,
    restartsTotal: entry.restartsTotal,
    ...(entry.isDisabled ? { isDisabled: true } : {}),
    process: handle
      ? {
        pid: handle.pid,
        startTicks: handle.startTicks,
        bootId: reaper.bootId(),
        port: entry.port,
      }
      : undefined,
  };
  entry.persistChain = entry.persistChain
    .then(() => repo.putInstance(record))
    .catch((err: unknown) => {
      log.error("Cannot store state of {key}: {err}", { key: entry.key, err: messageOf(err) });
    });
}
