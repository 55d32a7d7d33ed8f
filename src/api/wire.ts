/**
 * JSON shapes of the management API, shared by the server and the CLI client. The keys of the
 * original tenement are kept; new keys are only added.
 * @module
 */
import type { Health, InstanceStatus } from "../core/lifecycle.ts";

/** One element of `GET /api/instances`. */
export interface InstanceJson {
  /** `service:id`. */
  readonly id: string;
  /** Listen address, `127.0.0.1:PORT`, or "" when not running. */
  readonly socket: string;
  readonly uptime_secs: number;
  readonly idle_secs: number;
  readonly restarts: number;
  readonly health: Health;
  readonly storage_used_bytes: number;
  readonly storage_quota_bytes: number | null;
  readonly weight: number;
  /** Added: the service name. */
  readonly service: string;
  /** Added: the instance id alone. */
  readonly instance: string;
  /** Added: lifecycle status, or `disabled` for an instance the operator disabled. */
  readonly status: InstanceStatus | "disabled";
  readonly pid: number | null;
  readonly port: number | null;
  /** Added: why it is failed, stopped or restarting. */
  readonly reason: string | null;
  /** Added: seconds until a backoff or failed instance is retried. */
  readonly retry_in_secs: number | null;
  /** Added: disabled by the operator (`ten disable`): stopped, and no request wakes it. */
  readonly disabled: boolean;
  /**
   * Added: resident memory of its processes (sampled every few seconds); null when asleep or not
   * sampled yet, absent from older daemons.
   */
  readonly rss_bytes?: number | null;
  /** Added: CPU seconds (user + system) its processes used since it started; like `rss_bytes`. */
  readonly cpu_seconds?: number | null;
}

/** Answer of `POST /api/instances/:id/disable` and `/enable`. */
export interface DisableResponse {
  readonly instance: string;
  /** The instance is disabled now. */
  readonly disabled: boolean;
  /** False when it already was disabled (or enabled): nothing was done. */
  readonly changed: boolean;
  readonly status: InstanceStatus | "disabled";
}

/** `POST /api/instances/spawn` body. */
export interface SpawnRequest {
  readonly process: string;
  readonly id: string;
}

/** Answer of spawn and restart. */
export interface SpawnResponse {
  readonly instance: string;
  readonly socket: string;
  readonly port: number | null;
  readonly status: InstanceStatus;
  readonly pid: number | null;
  /** Added (spawn only): true when the instance was already running and nothing was started. */
  readonly already_running?: boolean;
  /**
   * Present when the app listens but its health check had not passed by the end of its start-up,
   * e.g. `notes:a is not healthy after 10 s (GET /health → 500); …`. It keeps running.
   */
  readonly warning?: string;
}

/** `PUT /api/instances/:id/weight` body. */
export interface WeightRequest {
  readonly weight: number;
}

/** Answer of a weight change. */
export interface WeightResponse {
  readonly instance: string;
  readonly weight: number;
}

/** Answer of `GET /api/instances/:id/health`. */
export interface HealthResponse {
  readonly instance: string;
  readonly health: Health;
  readonly status: InstanceStatus;
  readonly reason: string | null;
}

/** Every API error body. */
export interface ErrorBody {
  readonly error: string;
  readonly field?: string;
  /** More lines, e.g. a failed deploy's last health result and stderr tail. */
  readonly details?: readonly string[];
}

/** One log line, in the original's key order. */
export interface LogEntryJson {
  readonly timestamp: number;
  /** `event`: a lifecycle fact written by tenement itself. */
  readonly level: "stdout" | "stderr" | "event";
  readonly process: string;
  readonly instance_id: string;
  readonly message: string;
  /** Row id of the log store, growing; the SSE event id. */
  readonly id: number;
}

/**
 * `POST /api/deploy` body (and `POST /api/deploy/plan`'s). Without `weight`, the first instance
 * of a service with traffic gets 100, a new one next to instances with traffic gets 0, and an
 * instance that already has traffic keeps its weight.
 */
export interface DeployRequest {
  readonly process: string;
  readonly version: string;
  readonly weight?: number;
  /** Seconds to wait for a passing health check. @default {30} */
  readonly timeout?: number;
}

/** Answer of `POST /api/deploy`. */
export interface DeployResponse {
  readonly instance: string;
  readonly socket: string;
  readonly weight: number;
  readonly status: string;
  /** Added: the service's other instances (`service:id`) that have traffic (weight > 0). */
  readonly others_with_traffic?: readonly string[];
}

/** Answer of `POST /api/deploy/plan`: what a deploy with the same body would do now. */
export interface DeployPlanResponse {
  readonly instance: string;
  /** The weight the instance would get once healthy. */
  readonly weight: number;
  /** The service's other instances (`service:id`) that have traffic (weight > 0). */
  readonly others_with_traffic: readonly string[];
}

/** Answer of `POST /api/route`. */
export interface RouteResponse {
  readonly from_instance: string;
  readonly to_instance: string;
  readonly from_weight: number;
  readonly to_weight: number;
}

/** Answer of `POST /api/rollback`. */
export interface RollbackResponse {
  readonly process: string;
  readonly weights: ReadonlyArray<{ readonly instance: string; readonly weight: number }>;
}

/** One row of `GET /api/history`. */
export interface HistoryEntryJson {
  /** Unix milliseconds. */
  readonly time: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly outcome: "ok" | "error";
  readonly details: string;
}

/** One certificate in `GET /api/tls/certs` (built-in TLS). */
export interface CertJson {
  readonly names: readonly string[];
  readonly challenge: "dns-01" | "http-01";
  readonly issuer: string | null;
  readonly not_before: string | null;
  readonly not_after: string | null;
  /** When the next issuance or renewal attempt is due. */
  readonly next_attempt: string | null;
  readonly last_error: string | null;
  readonly last_error_at: string | null;
}

/** `GET /api/tls/certs`. */
export interface CertsResponse {
  /** False when the daemon serves plain HTTP only (no built-in TLS). */
  readonly enabled: boolean;
  readonly domain: string | null;
  readonly directory: string | null;
  readonly certificates: readonly CertJson[];
}

/** Answer of `POST /api/instances/:id/forget` (`ten rm`). */
export interface ForgetResponse {
  readonly instance: string;
  /** The instance's data dir, `{data_dir}/{service}/{id}`. */
  readonly data_dir: string;
  /** True when the data dir was deleted (or, for a dry run, would be). */
  readonly purged: boolean;
  /** True when the data dir existed. */
  readonly had_data_dir: boolean;
  /** True when nothing was changed (`?dry_run=1`). */
  readonly dry_run: boolean;
}

/** Answer of `POST /api/reload`: what the reload put in force. */
export interface ReloadResponse {
  /** The config file that was read. */
  readonly config: string;
  readonly added: readonly string[];
  readonly changed: ReadonlyArray<{ readonly service: string; readonly keys: readonly string[] }>;
  readonly removed: readonly string[];
  /** Settings that changed and apply now. */
  readonly settings: readonly string[];
  /** Settings that changed but apply only after a daemon restart (ignored until then). */
  readonly needs_restart: readonly string[];
  /** `[instances]` changed (read when the daemon starts). */
  readonly instances_changed: boolean;
  /** Running instances whose process still runs a replaced or removed definition. */
  readonly outdated: ReadonlyArray<
    { readonly instance: string; readonly service_removed: boolean }
  >;
  /** Warnings about the new file. */
  readonly warnings: readonly string[];
}

/** One token in `GET /api/tokens`: never the token or its hash. */
export interface TokenJson {
  /** The token's first 8 characters (`admin` for the admin token made before token ids). */
  readonly id: string;
  readonly kind: "admin" | "tenant" | "metrics";
  /** What it reaches: `all`, the tenant (`alice`, `notes:alice`, `alice in notes,api`) or `/metrics`. */
  readonly scope: string;
  /** Tenant tokens: the instance id or `service:id`. */
  readonly tenant: string | null;
  /** Tenant tokens narrowed with `--services`. */
  readonly services: readonly string[] | null;
  readonly label: string | null;
  /** ISO 8601 times. */
  readonly created_at: string;
  /** Last use, recorded at most once a minute. */
  readonly last_used_at: string | null;
  readonly expires_at: string | null;
  readonly expired: boolean;
  /** The admin token saved to `{data_dir}/.tenement/api_token` (the next `ten token-gen` replaces it). */
  readonly file_token: boolean;
}

/** Answer of `DELETE /api/tokens/:id`. */
export interface RevokeTokenResponse {
  readonly revoked: TokenJson;
}
