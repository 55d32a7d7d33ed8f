/**
 * Instances with the disk use of their data dirs, measured a few at a time, for the instance
 * list and the telemetry summary.
 * @module
 */
import type { InstanceView, StorageUsage } from "./api_ports.ts";

/** An instance with the disk use of its data dir. */
export interface MeasuredView extends InstanceView {
  readonly storageUsedBytes: number;
  readonly storageQuotaBytes: number | null;
  /** Resident memory of the instance's processes, in bytes; undefined when asleep or unknown. */
  readonly rssBytes?: number;
  /** CPU time used by the instance's processes (user + system) since it started, in seconds. */
  readonly cpuSeconds?: number;
}

/** How many data dirs are measured at once. */
const MEASURE_CONCURRENCY = 4;

/** Options of {@linkcode withStorage}. */
export interface WithStorageOptions {
  /** Reuse measurements up to this old (default: the meter's cache time). */
  readonly maxAgeMs?: number;
}

/** Adds the disk use of each instance's data dir, measuring a few at a time. */
export async function withStorage(
  views: readonly InstanceView[],
  storage: StorageUsage,
  options: WithStorageOptions = {},
): Promise<MeasuredView[]> {
  const measured: MeasuredView[] = new Array(views.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < views.length) {
      const index = next++;
      const view = views[index]!;
      measured[index] = {
        ...view,
        storageUsedBytes: await storage.usedBytes(
          view,
          options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs },
        ),
        storageQuotaBytes: storage.quotaBytes(view.service),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(MEASURE_CONCURRENCY, views.length) }, worker));
  return measured;
}
