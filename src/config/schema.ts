/**
 * The typed, validated shape of `tenement.toml` and every default in one place. Values here are
 * already resolved: durations are in milliseconds, paths are absolute. Pure: no I/O.
 * @module
 */
import type { Rate } from "../core/client_rate.ts";
import type { ConfigLocation } from "../core/errors.ts";
import type { UidRange } from "./user_values.ts";

/** How an instance's process is isolated. Only `process` runs today; see README. */
export type Isolation =
  | "process"
  | "namespace"
  | "sandbox"
  | "litebox"
  | "quark"
  | "firecracker"
  | "qemu";

/** Every isolation value the config accepts. */
export const ISOLATIONS: readonly Isolation[] = [
  "process",
  "namespace",
  "sandbox",
  "litebox",
  "quark",
  "firecracker",
  "qemu",
];

/** A sandbox's network: the host's, or none at all (reached through its Unix socket only). */
export type Network = "host" | "none";

/** Every network value the config accepts. */
export const NETWORKS: readonly Network[] = ["host", "none"];

/** When a process that exited on its own is started again. */
export type RestartPolicy = "always" | "on-failure" | "never";

/** Every restart policy the config accepts. */
export const RESTART_POLICIES: readonly RestartPolicy[] = ["always", "on-failure", "never"];

/** `[settings.tls]`. Parsed and validated; served by the TLS feature. */
export interface TlsSettings {
  readonly enabled: boolean;
  readonly acmeEmail: string | undefined;
  readonly domain: string | undefined;
  readonly cacheDir: string;
  readonly staging: boolean;
  readonly httpsPort: number;
  readonly httpPort: number;
  /** The old tool's Caddy DNS provider name: accepted, unused (see `dnsHook`). */
  readonly dnsProvider: string | undefined;
  /** ACME directory URL; undefined picks Let's Encrypt (production, or staging with `staging`). */
  readonly acmeDirectory: string | undefined;
  /** Absolute path of a PEM file of extra roots trusted for the ACME server's own HTTPS. */
  readonly acmeCaCert: string | undefined;
  /** Absolute path of the DNS-01 hook (`HOOK set|unset FQDN VALUE`); undefined: HTTP-01 on demand. */
  readonly dnsHook: string | undefined;
  /** Wait until a DNS-01 TXT record is visible before asking the CA to check it. */
  readonly dnsPropagationCheck: boolean;
}

/** `[settings]`. */
export interface Settings {
  /** Absolute data dir: state, tokens and `{data_dir}/{service}/{id}/`. */
  readonly dataDir: string;
  readonly healthCheckIntervalMs: number;
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** A running instance that stays healthy this long has its crash backoff reset. */
  readonly backoffResetMs: number;
  /** Inclusive port range instances get their `PORT` from. */
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  /** At most this many instances start at once; 0 means one per CPU core. */
  readonly maxConcurrentStarts: number;
  /** At most this many instances awake (with a process) at once over all services; 0: no limit. */
  readonly maxAwake: number;
  /** Wakes of asleep or stopped instances one client address may cause (`count` 0: no limit). */
  readonly wakeRatePerClient: Rate;
  /** Instances one client address may have created by its requests (`count` 0: no limit). */
  readonly autoCreateRatePerClient: Rate;
  /**
   * Peers (IPv4/IPv6 addresses and CIDR ranges) whose `X-Forwarded-For` is believed: reverse
   * proxies in front of tenement. Empty: the connecting address is the client.
   */
  readonly trustedProxies: readonly string[];
  /** A new connection that sends nothing (or no TLS handshake) for this long is closed. */
  readonly firstByteTimeoutMs: number;
  /** Client connections the front holds at most; more are closed on accept. */
  readonly maxConnections: number;
  /** Client connections one address may hold at most; 0: no limit. */
  readonly maxConnectionsPerClient: number;
  /**
   * Where `/metrics` is also served without a token (`metrics_bind = "127.0.0.1:9100"`);
   * undefined: only on the main listener, with an admin or metrics token.
   */
  readonly metricsBind: ListenAddress | undefined;
  /** Label `/metrics` series with instance ids; false sums them per service. */
  readonly metricsInstanceLabel: boolean;
  /** `user` of services that set none: `"inherit"`, `"auto"` or a user name. */
  readonly defaultUser: string;
  /** Ids `user = "auto"` gives instances (uid and gid alike), inclusive. */
  readonly autoUserRange: UidRange;
  /**
   * The cgroup file system tenement puts limited instances in (`cgroup_root`), absolute; its
   * `tenement/` (v2) or `{controller}/tenement/` (v1) is tenement's. @default {"/sys/fs/cgroup"}
   */
  readonly cgroupRoot: string;
  /** Log lines older than this are deleted (`log_retention`); 0: kept until the size limit. */
  readonly logRetentionMs: number;
  /** Size budget of the log database in bytes (`log_max_size_mb`); 0: no limit. */
  readonly logMaxSizeBytes: number;
  readonly tls: TlsSettings;
}

/** A host and port to listen on. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

/** One `[[service.X.mounts]]` entry. */
export interface Mount {
  readonly source: string;
  readonly destination: string;
  readonly readonly: boolean;
}

/** `[service.<name>]`: the template every instance of the service is started from. */
export interface ServiceConfig {
  readonly name: string;
  /** Program or whole command line; interpolated, shell-word split when `args` is empty. */
  readonly command: string;
  readonly args: readonly string[];
  /** HTTP path probed for health, e.g. `/health`; without it liveness + TCP connect decide. */
  readonly health: string | undefined;
  readonly isolation: Isolation;
  /**
   * Who instances run as: `"inherit"` (the daemon's user), `"auto"` (an id of their own from
   * `auto_user_range`, when the daemon is root) or a user name; `default_user` when unset.
   */
  readonly user: string;
  readonly env: Readonly<Record<string, string>>;
  /**
   * Start instances from an empty environment instead of the daemon's: only `PATH`, `LANG`, `TZ`,
   * `HOME`, `PORT`, `SOCKET_PATH`, `env` and the daemon variables named in `envPassthrough`.
   */
  readonly envClear: boolean;
  /** Daemon variables kept when `envClear` is set (never `TENEMENT_*` or `SSH_AUTH_SOCK`). */
  readonly envPassthrough: readonly string[];
  /** Absolute working dir; defaults to the config file's directory. */
  readonly workdir: string;
  /** Socket path template; only `{name}` `{id}` `{data_dir}` are expanded. */
  readonly socket: string;
  readonly restart: RestartPolicy;
  /** 0 means never stopped for idleness. */
  readonly idleTimeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly stopGracePeriodMs: number;
  readonly memoryLimitMb: number | undefined;
  readonly cpuShares: number | undefined;
  /** Most processes (and threads) the instance may have at once; undefined: no limit. */
  readonly pidsLimit: number | undefined;
  readonly storageQuotaMb: number | undefined;
  readonly storagePersist: boolean;
  readonly image: string | undefined;
  readonly mounts: readonly Mount[];
  /** `"none"`: the sandbox has no network; the app is reached through its Unix socket. */
  readonly network: Network;
  readonly rootfs: string | undefined;
  /** May a request for a never-seen id create that instance? */
  readonly autoCreate: boolean;
  /** At most this many instances of the service created by requests. */
  readonly autoCreateLimit: number;
  /** At most this many request-created instances per minute. */
  readonly autoCreatePerMinute: number;
  /** When non-empty, only these ids may be created by requests. */
  readonly autoCreateAllow: readonly string[];
  /** A request-created instance not running and unused this long is forgotten; 0: never. */
  readonly autoCreateForgetAfterMs: number;
  /** At most this many instances of the service awake at once; 0: no limit. */
  readonly maxAwake: number;
  /** Requests that may wait for one instance to wake before the rest get 503. */
  readonly maxQueuedRequests: number;
  /**
   * Does `{service}.{domain}` route to the service's weighted instances? False for per-tenant
   * services: the shared route answers 404 and only `{id}.{service}.{domain}` reaches them.
   */
  readonly sharedRoute: boolean;
}

/** The whole validated config. */
export interface Config {
  /** Absolute path of the file this came from. */
  readonly path: string;
  /** Absolute directory of that file; relative paths in it resolve against this. */
  readonly dir: string;
  readonly settings: Settings;
  /** Services in file order. */
  readonly services: ReadonlyMap<string, ServiceConfig>;
  /** `[instances]`: service name → ids started with `ten serve`. */
  readonly instances: ReadonlyMap<string, readonly string[]>;
  /** `[routing]`, parsed and checked against the services; nothing consumes it yet. */
  readonly routing?: RoutingConfig;
  /** Keys set in the file that are accepted but not acted on yet (see `inert_keys.ts`). */
  readonly warnings?: readonly ConfigWarning[];
}

/** A key that is set but does nothing yet, and where it is written. */
export interface ConfigWarning {
  readonly at: ConfigLocation & { readonly key: string };
  /** `file:line:column: "key" is set but ...`, ready to show. */
  readonly message: string;
}

/** `[routing]`: which service answers a host or path that names none. */
export interface RoutingConfig {
  /** `default`: service for requests that match no other rule. */
  readonly defaultService: string | undefined;
  /** `[routing.subdomain]`: host label → service name. */
  readonly subdomain: ReadonlyMap<string, string>;
  /** `[routing.path]`: path prefix (starting with "/") → service name. */
  readonly path: ReadonlyMap<string, string>;
}

/** Defaults for `[settings]` (durations in the units the TOML uses). */
export const SETTINGS_DEFAULTS = {
  data_dir: "./tenement-data",
  health_check_interval: 10,
  max_restarts: 3,
  restart_window: 300,
  backoff_base_ms: 1000,
  backoff_max_ms: 60000,
  backoff_reset_secs: 60,
  port_range_start: 30000,
  port_range_end: 40000,
  max_concurrent_starts: 0,
  max_awake: 0,
  wake_rate_per_client: "30/min",
  auto_create_rate_per_client: "10/min",
  trusted_proxies: [] as readonly string[],
  first_byte_timeout: 10,
  max_connections: 10_000,
  max_connections_per_client: 256,
  metrics_instance_label: true,
  default_user: "inherit",
  // systemd's DynamicUser range: ids no distribution hands out.
  auto_user_range: { start: 61184, end: 65519 },
  cgroup_root: "/sys/fs/cgroup",
  log_retention: "7d",
  log_max_size_mb: 1024,
} as const;

/** Defaults for `[settings.tls]`. */
export const TLS_DEFAULTS = {
  enabled: false,
  staging: false,
  dns_propagation_check: true,
  https_port: 443,
  http_port: 80,
} as const;

/**
 * Daemon variables no instance ever inherits, even when listed in `env_passthrough`:
 * `TENEMENT_*` (operators export the admin token as `TENEMENT_TOKEN`) and `SSH_AUTH_SOCK`.
 */
export function isDaemonSecret(name: string): boolean {
  return name.startsWith("TENEMENT_") || name === "SSH_AUTH_SOCK";
}

/** Defaults for `[service.X]` (durations in seconds, as in the TOML). */
export const SERVICE_DEFAULTS = {
  isolation: "process" as Isolation,
  network: "host" as Network,
  // "." appears in no service name or id, so two instances never share a path; the directory
  // of its own lets tenement give it to the instance's user alone.
  socket: "{data_dir}/run/{name}.{id}/app.sock",
  env_clear: false,
  restart: "on-failure" as RestartPolicy,
  idle_timeout: 0,
  startup_timeout: 10,
  request_timeout: 30,
  stop_grace_period: 10,
  storage_persist: true,
  auto_create: true,
  auto_create_limit: 100,
  auto_create_per_minute: 60,
  auto_create_forget_after: "7d",
  max_awake: 0,
  max_queued_requests: 256,
  shared_route: true,
} as const;
