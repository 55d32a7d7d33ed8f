/**
 * `[settings]` and `[settings.tls]` of `tenement.toml`: their fields, defaults and the checks
 * between keys (backoff and port ranges, the TLS ports and email). Pure: no I/O.
 * @module
 */
import {
  BOOLEAN,
  type Context,
  type Field,
  PORT,
  readTable,
  report,
  seconds,
  STRING_LIST,
  TABLE,
  type Table,
  TEXT,
  tildeProblem,
  wholeNumber,
} from "./config_fields.ts";
import { cidrProblem } from "../core/cidr.ts";
import { parseRate } from "../core/client_rate.ts";
import { DURATION_TEXT, parseDurationText, RATE } from "./capacity_fields.ts";
import { resolvePath } from "./config_paths.ts";
import { statePaths } from "../core/state_paths.ts";
import { UID_RANGE, USER_SETTING } from "./user_values.ts";
import { acmeDirectoryProblem, emailProblem, tlsDomainProblem } from "./tls_values.ts";
import {
  type ListenAddress,
  type Settings,
  SETTINGS_DEFAULTS,
  TLS_DEFAULTS,
  type TlsSettings,
} from "./schema.ts";

/**
 * `host:port` (`[::1]:9100` for IPv6) as a listen address.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * deepEqual(parseListenAddress("127.0.0.1:9100"), { hostname: "127.0.0.1", port: 9100 });
 * deepEqual(parseListenAddress("[::1]:9100"), { hostname: "::1", port: 9100 });
 * equal(parseListenAddress("9100"), undefined);
 * ```
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { hostname: match[1] ?? match[2]!, port };
}

const LISTEN_ADDRESS: Field<ListenAddress> = {
  expected: 'an address and port such as "127.0.0.1:9100"',
  convert: (raw) => (typeof raw === "string" ? parseListenAddress(raw) : undefined),
  isText: true,
};

const SETTINGS_FIELDS = {
  data_dir: TEXT,
  health_check_interval: seconds("positive"),
  max_restarts: wholeNumber(0),
  restart_window: seconds("positive"),
  backoff_base_ms: wholeNumber(0, "milliseconds"),
  backoff_max_ms: wholeNumber(0, "milliseconds"),
  backoff_reset_secs: seconds("zero_or_more"),
  port_range_start: PORT,
  port_range_end: PORT,
  max_concurrent_starts: wholeNumber(0),
  max_awake: wholeNumber(0),
  wake_rate_per_client: RATE,
  auto_create_rate_per_client: RATE,
  trusted_proxies: STRING_LIST,
  first_byte_timeout: seconds("positive"),
  max_connections: wholeNumber(1),
  max_connections_per_client: wholeNumber(0),
  metrics_bind: LISTEN_ADDRESS,
  metrics_instance_label: BOOLEAN,
  default_user: USER_SETTING,
  auto_user_range: UID_RANGE,
  cgroup_root: TEXT,
  log_retention: DURATION_TEXT,
  log_max_size_mb: wholeNumber(0, "megabytes"),
  tls: TABLE,
};

export function readSettings(
  ctx: Context,
  table: Table,
  paths: { readonly dir: string; readonly dataDir: string | undefined },
): Settings {
  const values = readTable(ctx, table, ["settings"], SETTINGS_FIELDS, "in [settings]");
  const dataDirText = values.data_dir ?? SETTINGS_DEFAULTS.data_dir;
  if (paths.dataDir === undefined && dataDirText.startsWith("~")) {
    const source = `data_dir in ${ctx.file.slice(ctx.file.lastIndexOf("/") + 1)}`;
    report(ctx, ["settings", "data_dir"], tildeProblem(source, dataDirText));
  }
  const dataDir = paths.dataDir ?? resolvePath(paths.dir, dataDirText);
  const backoffBaseMs = values.backoff_base_ms ?? SETTINGS_DEFAULTS.backoff_base_ms;
  const backoffMaxMs = values.backoff_max_ms ?? SETTINGS_DEFAULTS.backoff_max_ms;
  if (backoffMaxMs < backoffBaseMs) {
    const key = values.backoff_max_ms === undefined ? "backoff_base_ms" : "backoff_max_ms";
    report(
      ctx,
      ["settings", key],
      `"settings.backoff_max_ms" (${backoffMaxMs}) must be at least "settings.backoff_base_ms" (${backoffBaseMs})`,
    );
  }
  const portRangeStart = values.port_range_start ?? SETTINGS_DEFAULTS.port_range_start;
  const portRangeEnd = values.port_range_end ?? SETTINGS_DEFAULTS.port_range_end;
  if (portRangeStart > portRangeEnd) {
    const key = values.port_range_start === undefined ? "port_range_end" : "port_range_start";
    report(
      ctx,
      ["settings", key],
      `"settings.port_range_start" (${portRangeStart}) must not be greater than "settings.port_range_end" (${portRangeEnd})`,
    );
  }
  const cgroupRoot = values.cgroup_root ?? SETTINGS_DEFAULTS.cgroup_root;
  if (!cgroupRoot.startsWith("/")) {
    report(
      ctx,
      ["settings", "cgroup_root"],
      `"settings.cgroup_root" must be an absolute path such as "/sys/fs/cgroup", not ${
        JSON.stringify(cgroupRoot)
      }`,
    );
  }
  return {
    dataDir,
    healthCheckIntervalMs: values.health_check_interval ??
      SETTINGS_DEFAULTS.health_check_interval * 1000,
    maxRestarts: values.max_restarts ?? SETTINGS_DEFAULTS.max_restarts,
    restartWindowMs: values.restart_window ?? SETTINGS_DEFAULTS.restart_window * 1000,
    backoffBaseMs,
    backoffMaxMs,
    backoffResetMs: values.backoff_reset_secs ?? SETTINGS_DEFAULTS.backoff_reset_secs * 1000,
    portRangeStart,
    portRangeEnd,
    maxConcurrentStarts: values.max_concurrent_starts ?? SETTINGS_DEFAULTS.max_concurrent_starts,
    maxAwake: values.max_awake ?? SETTINGS_DEFAULTS.max_awake,
    wakeRatePerClient: values.wake_rate_per_client ??
      parseRate(SETTINGS_DEFAULTS.wake_rate_per_client)!,
    autoCreateRatePerClient: values.auto_create_rate_per_client ??
      parseRate(SETTINGS_DEFAULTS.auto_create_rate_per_client)!,
    trustedProxies: checkTrustedProxies(ctx, values.trusted_proxies ?? []),
    firstByteTimeoutMs: values.first_byte_timeout ?? SETTINGS_DEFAULTS.first_byte_timeout * 1000,
    maxConnections: values.max_connections ?? SETTINGS_DEFAULTS.max_connections,
    maxConnectionsPerClient: values.max_connections_per_client ??
      SETTINGS_DEFAULTS.max_connections_per_client,
    metricsBind: values.metrics_bind,
    metricsInstanceLabel: values.metrics_instance_label ??
      SETTINGS_DEFAULTS.metrics_instance_label,
    defaultUser: values.default_user ?? SETTINGS_DEFAULTS.default_user,
    autoUserRange: values.auto_user_range ?? SETTINGS_DEFAULTS.auto_user_range,
    cgroupRoot,
    logRetentionMs: values.log_retention ?? parseDurationText(SETTINGS_DEFAULTS.log_retention)!,
    logMaxSizeBytes: (values.log_max_size_mb ?? SETTINGS_DEFAULTS.log_max_size_mb) * 1024 * 1024,
    tls: readTls(ctx, values.tls ?? {}, { dir: paths.dir, dataDir }),
  };
}

/** The valid entries of `trusted_proxies`; each invalid one is reported at its position. */
function checkTrustedProxies(ctx: Context, entries: readonly string[]): string[] {
  const valid: string[] = [];
  entries.forEach((entry, index) => {
    const problem = cidrProblem(entry.trim());
    if (problem === undefined) valid.push(entry.trim());
    else {
      report(
        ctx,
        ["settings", "trusted_proxies", index],
        `invalid entry ${JSON.stringify(entry)} in "settings.trusted_proxies": ${problem}`,
      );
    }
  });
  return valid;
}

const TLS_FIELDS = {
  enabled: BOOLEAN,
  acme_email: TEXT,
  domain: TEXT,
  cache_dir: TEXT,
  staging: BOOLEAN,
  https_port: PORT,
  http_port: PORT,
  dns_provider: TEXT,
  acme_directory: TEXT,
  acme_ca_cert: TEXT,
  dns_hook: TEXT,
  dns_propagation_check: BOOLEAN,
};

function readTls(
  ctx: Context,
  table: Table,
  paths: { readonly dir: string; readonly dataDir: string },
): TlsSettings {
  const values = readTable(ctx, table, ["settings", "tls"], TLS_FIELDS, "in [settings.tls]");
  const httpsPort = values.https_port ?? TLS_DEFAULTS.https_port;
  const httpPort = values.http_port ?? TLS_DEFAULTS.http_port;
  if (httpPort === httpsPort) {
    const key = values.http_port === undefined ? "https_port" : "http_port";
    report(
      ctx,
      ["settings", "tls", key],
      `"settings.tls.http_port" and "settings.tls.https_port" are both ${httpPort}: they must differ`,
    );
  }
  const enabled = values.enabled ?? TLS_DEFAULTS.enabled;
  const problems: [string, string | undefined][] = [
    ["acme_email", values.acme_email === undefined ? undefined : emailProblem(values.acme_email)],
    ["domain", values.domain === undefined ? undefined : tlsDomainProblem(values.domain)],
    [
      "acme_directory",
      values.acme_directory === undefined ? undefined : acmeDirectoryProblem(values.acme_directory),
    ],
  ];
  for (const [key, problem] of problems) {
    if (problem !== undefined) report(ctx, ["settings", "tls", key], problem);
  }
  if (values.staging === true && values.acme_directory !== undefined) {
    report(
      ctx,
      ["settings", "tls", "staging"],
      `"settings.tls.staging" and "settings.tls.acme_directory" both pick the ACME server: keep one`,
    );
  }
  return {
    enabled,
    acmeEmail: values.acme_email,
    domain: values.domain,
    cacheDir: values.cache_dir === undefined
      ? statePaths(paths.dataDir).acmeDir
      : resolvePath(paths.dir, values.cache_dir),
    staging: values.staging ?? TLS_DEFAULTS.staging,
    httpsPort,
    httpPort,
    dnsProvider: values.dns_provider,
    acmeDirectory: values.acme_directory,
    acmeCaCert: values.acme_ca_cert === undefined
      ? undefined
      : resolvePath(paths.dir, values.acme_ca_cert),
    dnsHook: values.dns_hook === undefined ? undefined : resolvePath(paths.dir, values.dns_hook),
    dnsPropagationCheck: values.dns_propagation_check ?? TLS_DEFAULTS.dns_propagation_check,
  };
}
