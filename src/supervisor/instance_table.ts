/**
 * The instance table: every known instance by key, the same entries by service (for the weighted
 * route), lookups by Host name, and the service configs they run from. Entries are removed only
 * when an instance is forgotten (`ten rm`).
 * Ids are case-insensitive, as host names are: `api:Bob` and `api:bob` are one instance, which
 * keeps the spelling it was created with (and so its data dir).
 * @module
 */
import type { Config, ServiceConfig } from "../config/schema.ts";
import { NotFoundError } from "../core/errors.ts";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import { isAwake } from "../core/lifecycle.ts";
import {
  type InstanceEntry,
  type InstanceSnapshot,
  newEntry,
  snapshotOf,
} from "./instance_entry.ts";
import type { StoredInstance } from "./ports.ts";

/** Weight of an instance nobody gave one. */
export const DEFAULT_WEIGHT = 100;

/**
 * The weight of an instance nobody gave one, by how it came to exist: a tenant's instance
 * created by its own Host must not serve the service's shared route, today or after a restart.
 */
export function defaultWeight(origin: StoredInstance["origin"]): number {
  return origin === "request" ? 0 : DEFAULT_WEIGHT;
}

/** Options for listing instances. */
export interface ListOptions {
  /** Include asleep, stopped and failed instances. */
  readonly all?: boolean;
  readonly service?: string;
  readonly id?: string;
}

/** All instances the supervisor knows. */
export class InstanceTable {
  readonly #entries = new Map<string, InstanceEntry>();
  /** The same entries by service and lower-cased id. */
  readonly #entriesByFoldedKey = new Map<string, InstanceEntry>();
  readonly #entriesOfService = new Map<string, InstanceEntry[]>();

  /** The entry of `ref`, if known; the id matches whatever its case. */
  get(ref: InstanceRef): InstanceEntry | undefined {
    return this.#entries.get(formatInstanceKey(ref)) ??
      this.#entriesByFoldedKey.get(foldedKey(ref.service, ref.id));
  }

  /** The entry of `ref`; throws NotFoundError when unknown. */
  require(ref: InstanceRef): InstanceEntry {
    const entry = this.get(ref);
    if (!entry) throw new NotFoundError(`Instance not found: ${formatInstanceKey(ref)}`);
    return entry;
  }

  /** The entry of `ref`, created (not running) when unknown. */
  entryFor(ref: InstanceRef, origin: StoredInstance["origin"], nowMs: number): InstanceEntry {
    let entry = this.get(ref);
    if (!entry) {
      entry = newEntry(ref.service, ref.id, {
        origin,
        desired: "running",
        state: { kind: "stopped", reason: undefined },
        weight: defaultWeight(origin),
        restartsTotal: 0,
      }, nowMs);
      this.add(entry);
    }
    return entry;
  }

  /** Adds an entry. */
  add(entry: InstanceEntry): void {
    this.#entries.set(entry.key, entry);
    this.#entriesByFoldedKey.set(foldedKey(entry.service, entry.id), entry);
    const list = this.#entriesOfService.get(entry.service);
    if (list === undefined) this.#entriesOfService.set(entry.service, [entry]);
    else list.push(entry);
  }

  /** Removes an entry (a forgotten instance). */
  remove(entry: InstanceEntry): void {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    const folded = foldedKey(entry.service, entry.id);
    if (this.#entriesByFoldedKey.get(folded) === entry) this.#entriesByFoldedKey.delete(folded);
    const list = this.#entriesOfService.get(entry.service);
    if (list === undefined) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length > 0) this.#entriesOfService.set(entry.service, rest);
    else this.#entriesOfService.delete(entry.service);
  }

  /** The entries of one service, in the order they became known. */
  ofService(service: string): readonly InstanceEntry[] {
    return this.#entriesOfService.get(service) ?? [];
  }

  /** The entry a Host name's id label points at (host names are lower case, ids may not be). */
  forHost(service: string, id: string): InstanceEntry | undefined {
    return this.get({ service, id });
  }

  /** Every entry. */
  values(): IterableIterator<InstanceEntry> {
    return this.#entries.values();
  }

  /** Snapshots of instances, ordered by service then id. */
  snapshots(options: ListOptions = {}): InstanceSnapshot[] {
    const out: InstanceSnapshot[] = [];
    for (const e of this.#entries.values()) {
      if (options.service !== undefined && e.service !== options.service) continue;
      if (options.id !== undefined && e.id.toLowerCase() !== options.id.toLowerCase()) continue;
      if (!options.all && !isAwake(e.state)) continue;
      out.push(snapshotOf(e));
    }
    return out.sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
  }
}

/** The case-insensitive key of an instance of `service`. */
function foldedKey(service: string, id: string): string {
  return `${service}:${id.toLowerCase()}`;
}

/** The config of service `name`; throws NotFoundError when the config has none. */
export function serviceNamed(config: Config, name: string): ServiceConfig {
  const svc = config.services.get(name);
  if (!svc) throw new NotFoundError(`Unknown service "${name}": it is not defined in the config`);
  return svc;
}

/** The service a Host label names (host names are lower case; service names may not be). */
export function serviceForHost(config: Config, name: string): ServiceConfig | undefined {
  const exact = config.services.get(name);
  if (exact) return exact;
  for (const svc of config.services.values()) {
    if (svc.name.toLowerCase() === name) return svc;
  }
  return undefined;
}
