/**
 * Instances with the disk use of their data dirs, measured a few at a time, and the memory and
 * CPU of the awake ones (the resource sampler's last sample), for the instance list and the
 * telemetry summary.
 * @module
 */
import type { InstanceRef } from "../core/instance_key.ts";
import type { InstanceView, StorageUsage } from "./api_ports.ts";

/** An instance with the disk use of its data dir and, when awake, its memory and CPU. */
export interface MeasuredView extends InstanceView {
  readonly storageUsedBytes: number;
  readonly storageQuotaBytes: number | null;
  /** Resident memory of the instance's processes, in bytes; undefined when asleep or unknown. */
  readonly rssBytes?: number;
  /** CPU time used by the instance's processes (user + system) since it started, in seconds. */
  readonly cpuSeconds?: number;
}

/** Disk use, plus (optionally) the sampled memory and CPU of awake instances. */
export interface InstanceMeasures extends StorageUsage {
  /** The last sampled use of an awake instance; undefined when asleep or not sampled yet. */
  resourceUsage?(ref: InstanceRef): { rssBytes: number; cpuSeconds: number } | undefined;
}

/** How many data dirs are measured at once. */
const MEASURE_CONCURRENCY = 4;

/** Options of {@linkcode withStorage}. */
export interface WithStorageOptions {
  /** Reuse measurements up to this old (default: the meter's cache time). */
  readonly maxAgeMs?: number;
}

/** Adds the disk use of each instance's data dir, measuring a few at a time, and its resources. */
export async function withStorage(
  views: readonly InstanceView[],
  storage: InstanceMeasures,
  options: WithStorageOptions = {},
): Promise<MeasuredView[]> {
  const measured: MeasuredView[] = new Array(views.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < views.length) {
      const index = next++;
      const view = views[index]!;
      const usage = view.pid === undefined ? undefined : storage.resourceUsage?.(view);
      measured[index] = {
        ...view,
        storageUsedBytes: await storage.usedBytes(
          view,
          options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs },
        ),
        storageQuotaBytes: storage.quotaBytes(view.service),
        ...(usage === undefined ? {} : { rssBytes: usage.rssBytes, cpuSeconds: usage.cpuSeconds }),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(MEASURE_CONCURRENCY, views.length) }, worker));
  return measured;
}
