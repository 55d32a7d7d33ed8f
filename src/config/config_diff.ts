/**
 * What changed between the config a daemon runs and a newly read one (`ten reload`, SIGHUP):
 * services added, changed (which keys) and removed, and settings that cannot change while the
 * daemon runs. Pure: compares two parsed configs.
 * @module
 */
import { statePaths } from "../core/state_paths.ts";
import type { Config, ServiceConfig, Settings } from "./schema.ts";

/**
 * Service keys that shape an instance's process or its start-up: they apply when an instance
 * starts, so a running instance keeps its old values until it is restarted. Every other service
 * key (idle_timeout, request_timeout, restart, auto_create, ...) applies to running instances
 * at once.
 */
export const START_KEYS: readonly (keyof ServiceConfig)[] = [
  "command",
  "args",
  "env",
  "envClear",
  "envPassthrough",
  "workdir",
  "socket",
  "isolation",
  "user",
  "image",
  "mounts",
  "network",
  "rootfs",
  "memoryLimitMb",
  "cpuShares",
  "pidsLimit",
  "health",
  "startupTimeoutMs",
];

/** Settings that are read once when the daemon starts: a change needs a daemon restart. */
const RESTART_SETTINGS: readonly (keyof Settings)[] = [
  "dataDir",
  "portRangeStart",
  "portRangeEnd",
  "maxConcurrentStarts",
  "trustedProxies",
  "firstByteTimeoutMs",
  "maxConnections",
  "maxConnectionsPerClient",
  "metricsBind",
  "cgroupRoot",
  "logRetentionMs",
  "logMaxSizeBytes",
  "tls",
];

/** The TOML name of each service field, for reports. */
const SERVICE_KEY_NAMES: Readonly<Record<keyof ServiceConfig, string>> = {
  name: "name",
  command: "command",
  args: "args",
  health: "health",
  isolation: "isolation",
  user: "user",
  env: "env",
  envClear: "env_clear",
  envPassthrough: "env_passthrough",
  workdir: "workdir",
  socket: "socket",
  restart: "restart",
  idleTimeoutMs: "idle_timeout",
  startupTimeoutMs: "startup_timeout",
  requestTimeoutMs: "request_timeout",
  stopGracePeriodMs: "stop_grace_period",
  memoryLimitMb: "memory_limit_mb",
  cpuShares: "cpu_shares",
  pidsLimit: "pids_limit",
  storageQuotaMb: "storage_quota_mb",
  storagePersist: "storage_persist",
  image: "image",
  mounts: "mounts",
  network: "network",
  rootfs: "rootfs",
  autoCreate: "auto_create",
  autoCreateLimit: "auto_create_limit",
  autoCreatePerMinute: "auto_create_per_minute",
  autoCreateAllow: "auto_create_allow",
  autoCreateForgetAfterMs: "auto_create_forget_after",
  maxAwake: "max_awake",
  maxQueuedRequests: "max_queued_requests",
  sharedRoute: "shared_route",
};

/** The TOML name of each setting, for reports. */
const SETTING_NAMES: Readonly<Record<keyof Settings, string>> = {
  dataDir: "settings.data_dir",
  healthCheckIntervalMs: "settings.health_check_interval",
  maxRestarts: "settings.max_restarts",
  restartWindowMs: "settings.restart_window",
  backoffBaseMs: "settings.backoff_base_ms",
  backoffMaxMs: "settings.backoff_max_ms",
  backoffResetMs: "settings.backoff_reset_secs",
  portRangeStart: "settings.port_range_start",
  portRangeEnd: "settings.port_range_end",
  maxConcurrentStarts: "settings.max_concurrent_starts",
  maxAwake: "settings.max_awake",
  wakeRatePerClient: "settings.wake_rate_per_client",
  autoCreateRatePerClient: "settings.auto_create_rate_per_client",
  trustedProxies: "settings.trusted_proxies",
  firstByteTimeoutMs: "settings.first_byte_timeout",
  maxConnections: "settings.max_connections",
  maxConnectionsPerClient: "settings.max_connections_per_client",
  metricsBind: "settings.metrics_bind",
  metricsInstanceLabel: "settings.metrics_instance_label",
  defaultUser: "settings.default_user",
  autoUserRange: "settings.auto_user_range",
  cgroupRoot: "settings.cgroup_root",
  logRetentionMs: "settings.log_retention",
  logMaxSizeBytes: "settings.log_max_size_mb",
  tls: "settings.tls",
};

/** One changed service and its changed keys (TOML names). */
export interface ServiceChange {
  readonly service: string;
  readonly keys: readonly string[];
}

/** The difference between two configs. */
export interface ConfigDiff {
  readonly added: readonly string[];
  readonly changed: readonly ServiceChange[];
  readonly removed: readonly string[];
  /** Settings (TOML names) that changed and apply now. */
  readonly settings: readonly string[];
  /** Settings (TOML names) that changed but apply only after a daemon restart. */
  readonly needsRestart: readonly string[];
  /** `[instances]` changed: it is read when the daemon starts. */
  readonly isInstancesChanged: boolean;
}

/**
 * Compares the config in force with a newly read one.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseConfig } from "./parse_config.ts";
 * const old = parseConfig('[service.a]\ncommand = "x"\n', { path: "/t.toml" });
 * const next = parseConfig('[service.a]\ncommand = "y"\n[service.b]\ncommand = "z"\n', {
 *   path: "/t.toml",
 * });
 * const diff = diffConfigs(old, next);
 * deepEqual([diff.added, diff.changed], [["b"], [{ service: "a", keys: ["command"] }]]);
 * ```
 */
export function diffConfigs(old: Config, next: Config): ConfigDiff {
  const added: string[] = [];
  const changed: ServiceChange[] = [];
  for (const [name, svc] of next.services) {
    const before = old.services.get(name);
    if (before === undefined) {
      added.push(name);
      continue;
    }
    const keys = changedKeys(before, svc).map((key) => SERVICE_KEY_NAMES[key]);
    if (keys.length > 0) changed.push({ service: name, keys });
  }
  const removed = [...old.services.keys()].filter((name) => !next.services.has(name));
  const settings: string[] = [];
  const needsRestart: string[] = [];
  for (const key of Object.keys(SETTING_NAMES) as (keyof Settings)[]) {
    if (isSame(comparable(old.settings, key), comparable(next.settings, key))) continue;
    (RESTART_SETTINGS.includes(key) ? needsRestart : settings).push(SETTING_NAMES[key]);
  }
  if (!isSame(old.routing, next.routing)) settings.push("routing");
  return {
    added,
    changed,
    removed,
    settings,
    needsRestart,
    isInstancesChanged: !isSame(old.instances, next.instances),
  };
}

/**
 * `next` as it can be put in force now: the settings that need a daemon restart keep their
 * running values (they are reported, never half applied).
 */
export function applicableConfig(old: Config, next: Config): Config {
  const settings: Record<string, unknown> = { ...next.settings };
  for (const key of RESTART_SETTINGS) settings[key] = old.settings[key];
  return { ...next, settings: settings as unknown as Settings };
}

/** True when an instance started from `ran` would start differently from `now`. */
export function isStartChanged(ran: ServiceConfig, now: ServiceConfig): boolean {
  return START_KEYS.some((key) => !isSame(ran[key], now[key]));
}

/**
 * A setting as compared: the TLS cache dir counts as unchanged while it is the default under
 * the data dir, so a new data_dir is not reported as a TLS change as well.
 */
function comparable(settings: Settings, key: keyof Settings): unknown {
  if (key !== "tls") return settings[key];
  const tls = settings.tls;
  const isDefault = tls.cacheDir === statePaths(settings.dataDir).acmeDir;
  return isDefault ? { ...tls, cacheDir: "<default>" } : tls;
}

/** The fields in which two definitions of one service differ. */
function changedKeys(a: ServiceConfig, b: ServiceConfig): (keyof ServiceConfig)[] {
  return (Object.keys(SERVICE_KEY_NAMES) as (keyof ServiceConfig)[])
    .filter((key) => !isSame(a[key], b[key]));
}

/** Deep equality of parsed config values (plain data, maps, arrays). */
function isSame(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [key, value] of a) {
      if (!b.has(key) || !isSame(value, b.get(key))) return false;
    }
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((value, i) => isSame(value, b[i]));
  }
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) {
    if (Array.isArray(a) || Array.isArray(b) || a instanceof Map || b instanceof Map) return false;
    const aRecord = a as Record<string, unknown>;
    const bRecord = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(aRecord), ...Object.keys(bRecord)]);
    for (const key of keys) if (!isSame(aRecord[key], bRecord[key])) return false;
    return true;
  }
  return false;
}
