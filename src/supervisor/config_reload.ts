/**
 * Putting a reloaded config in force (`ten reload`, SIGHUP): one swap of the live config, and
 * the report of what changed and which running instances still run a replaced or removed
 * service definition.
 * @module
 */
import { applicableConfig, diffConfigs, isStartChanged } from "../config/config_diff.ts";
import type { OutdatedInstance, ReloadReport } from "../config/reload_report.ts";
import type { Config } from "../config/schema.ts";
import { isWaitingToRetry, reasonOf } from "../core/lifecycle.ts";
import type { InstanceTable } from "./instance_table.ts";
import type { LiveConfig } from "./live_config.ts";
import type { Runner } from "./runner.ts";

/** What a reload needs. */
export interface ReloadDeps {
  readonly live: LiveConfig;
  readonly table: InstanceTable;
  readonly runner: Runner;
}

/**
 * Puts `next` in force for everything that starts from now on: restarts, deploys, wakes,
 * spawns and request-created instances use the new service definitions, and new services are
 * routable. The swap is one assignment and the report is made in the same synchronous step, so
 * no operation sees half of it. Settings read once at daemon start (data_dir, port range,
 * max_concurrent_starts, [settings.tls]) keep their running values and are reported. Running
 * instances keep their process: the report lists those whose start keys changed or whose
 * service was removed (they run until stopped; nothing of a removed service starts again, and
 * a pending retry of one is dropped).
 */
export function reloadConfig(deps: ReloadDeps, next: Config): ReloadReport {
  const old = deps.live.current;
  const diff = diffConfigs(old, next);
  const applied = applicableConfig(old, next);
  deps.live.replace(applied);
  const outdated: OutdatedInstance[] = [];
  for (const entry of deps.table.values()) {
    const now = applied.services.get(entry.service);
    if (now === undefined) {
      if (entry.handle) outdated.push({ instance: entry.key, isServiceRemoved: true });
      else if (isWaitingToRetry(entry.state)) {
        deps.runner.retire(entry, reasonOf(entry.state) ?? "ended");
      }
      continue;
    }
    const ran = entry.definition;
    if (entry.handle && ran !== undefined && isStartChanged(ran, now)) {
      outdated.push({ instance: entry.key, isServiceRemoved: false });
    }
  }
  outdated.sort((a, b) => a.instance.localeCompare(b.instance));
  return {
    ...diff,
    path: next.path,
    outdated,
    warnings: (next.warnings ?? []).map((w) => w.message),
  };
}
