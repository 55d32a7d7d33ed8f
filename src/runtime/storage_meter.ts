/**
 * Disk use of instance data dirs (`{data_dir}/{service}/{id}`), measured on demand by a bounded
 * walk and kept for a few seconds, so `ten ps` and dashboards polling the API stay cheap.
 * @module
 */
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import type { Config } from "../config/schema.ts";
import { instanceDir } from "../core/instance_dir.ts";

/** Options of {@linkcode StorageMeter}. */
export interface StorageMeterOptions {
  /** Most directory entries looked at per instance; beyond it the sum is a lower bound. */
  readonly maxEntries?: number;
  /** How long a measurement is reused. @default {5000} */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const BYTES_PER_MB = 1024 * 1024;

/** Measures and caches the bytes under each instance's data dir. */
export class StorageMeter {
  readonly #config: () => Config;
  readonly #maxEntries: number;
  readonly #cacheMs: number;
  readonly #now: () => number;
  readonly #measured = new Map<string, { atMs: number; bytes: Promise<number> }>();

  /** `config` is the config in force, or a function giving it (it may be reloaded). */
  constructor(config: Config | (() => Config), options: StorageMeterOptions = {}) {
    this.#config = typeof config === "function" ? config : () => config;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#cacheMs = options.cacheMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Bytes of the files under the instance's data dir; 0 when it does not exist. A measurement
   * younger than `maxAgeMs` (default: `cacheMs`) is reused.
   */
  usedBytes(ref: InstanceRef, options: { readonly maxAgeMs?: number } = {}): Promise<number> {
    const key = formatInstanceKey(ref);
    const nowMs = this.#now();
    const cached = this.#measured.get(key);
    const maxAgeMs = options.maxAgeMs ?? this.#cacheMs;
    if (cached !== undefined && nowMs - cached.atMs < maxAgeMs) return cached.bytes;
    // The data dir layout the supervisor creates for every instance.
    const dir = instanceDir(this.#config().settings.dataDir, ref.service, ref.id);
    const bytes = measureDirBytes(dir, { maxEntries: this.#maxEntries });
    this.#measured.set(key, { atMs: nowMs, bytes });
    return bytes;
  }

  /** The service's `storage_quota_mb` in bytes, or null when it sets none. */
  quotaBytes(service: string): number | null {
    const quotaMb = this.#config().services.get(service)?.storageQuotaMb;
    return quotaMb === undefined ? null : quotaMb * BYTES_PER_MB;
  }
}

/**
 * Sums the sizes of the regular files under `dir` (symlinks are not followed), looking at no
 * more than `maxEntries` entries. A missing or unreadable directory counts as 0 bytes.
 */
export async function measureDirBytes(
  dir: string,
  options: { readonly maxEntries: number },
): Promise<number> {
  let total = 0;
  let seen = 0;
  const pending = [dir];
  while (pending.length > 0 && seen < options.maxEntries) {
    const current = pending.pop()!;
    try {
      for await (const entry of Deno.readDir(current)) {
        if (++seen > options.maxEntries) break;
        const path = `${current}/${entry.name}`;
        if (entry.isDirectory) pending.push(path);
        else if (entry.isFile) total += await fileSize(path);
      }
    } catch {
      // Gone or unreadable (an instance removing its files meanwhile): counts as empty.
    }
  }
  return total;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.lstat(path)).size;
  } catch {
    return 0;
  }
}
