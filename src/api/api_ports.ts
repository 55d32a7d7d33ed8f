/**
 * What the management API needs from the rest of tenement, as narrow interfaces the API owns:
 * instance control (the supervisor), token and audit storage (the state store), log search (the
 * log ring) and storage usage. The real classes satisfy them structurally and the daemon hands
 * them in; tests hand in small fakes and call the handler with a `Request`, without a socket.
 * @module
 */
import type { CertStatus } from "../tls/tls_types.ts";
import type { Health, InstanceStatus } from "../core/lifecycle.ts";
import type { InstanceKey, InstanceRef } from "../core/instance_key.ts";
import type { AuditValue, TokenListing, TokenValue } from "../store/state_store.ts";
import type { ReloadOutcome } from "../config/reload_report.ts";
import type { LogEntryJson } from "./wire.ts";

/** The facts about one instance that the API reports. */
export interface InstanceView {
  readonly key: InstanceKey;
  readonly service: string;
  readonly id: string;
  readonly status: InstanceStatus;
  readonly health: Health;
  readonly pid: number | undefined;
  readonly port: number | undefined;
  readonly weight: number;
  readonly startedAtMs: number | undefined;
  readonly lastActivityMs: number;
  readonly restarts: number;
  /** Why the instance is failed, stopped on its own, or backing off. */
  readonly reason: string | undefined;
  /** When a backoff or failed instance is started again. */
  readonly retryAtMs: number | undefined;
  /** Disabled by the operator (`ten disable`); absent means enabled. */
  readonly isDisabled?: boolean;
}

/** An instance after a disable or enable, and whether that changed anything. */
export interface DisabledView {
  readonly instance: InstanceView;
  /** False when it already was disabled (or enabled). */
  readonly isChanged: boolean;
}

/** An instance after a spawn or restart. */
export interface SpawnedView extends InstanceView {
  /** Set when the app listens but its health check had not passed by the end of its start-up. */
  readonly warning?: string | undefined;
}

/** Which instances {@linkcode InstanceControl.list} returns. */
export interface InstanceFilter {
  /** Include asleep, stopped and failed instances. */
  readonly all: boolean;
  readonly service?: string;
}

/**
 * Who asks to start an instance: `api` for the admin token, `request` for a tenant token (an
 * unknown instance is then created only as a request for its Host could create it, under the
 * service's `auto_create` rules, and with weight 0).
 */
export type SpawnOrigin = "api" | "request";

/** The instance commands and queries the routes call (the supervisor's public surface). */
export interface InstanceControl {
  /** Instances ordered by service then id. */
  list(filter: InstanceFilter): readonly InstanceView[];
  /** One instance, or undefined when unknown. */
  get(ref: InstanceRef): InstanceView | undefined;
  /**
   * Starts an instance (idempotent) and waits until it is ready; fails (and stops it) when it
   * exits or never listens during its start-up.
   */
  spawn(ref: InstanceRef, origin: SpawnOrigin): Promise<SpawnedView>;
  /** Stops an instance; throws NotFoundError when unknown. */
  stop(ref: InstanceRef): Promise<unknown>;
  /**
   * Stops and starts again, clearing failed state and backoff; an unknown instance is created
   * with `origin`, as by spawn.
   */
  restart(ref: InstanceRef, origin?: SpawnOrigin): Promise<SpawnedView>;
  /** Sets a traffic weight (0-100). */
  setWeight(ref: InstanceRef, weight: number): Promise<InstanceView>;
  /** Runs one health probe now. */
  checkHealth(ref: InstanceRef): Promise<InstanceView>;
  /** Starts `ref`, waits until healthy, then gives it `weight` (undefined: blue-green). */
  deploy(
    ref: InstanceRef,
    options: { weight: number | undefined; timeoutMs: number },
  ): Promise<InstanceView>;
  /** Moves a service's traffic from one instance to another. */
  route(
    service: string,
    fromId: string,
    toId: string,
    options: { stopOld: boolean },
  ): Promise<{ readonly from: InstanceView; readonly to: InstanceView }>;
  /** Restores the weights the last route change replaced. */
  rollback(service: string): Promise<readonly InstanceView[]>;
  /**
   * Forgets an instance that is not running (with `purge`, deletes its data dir too); with
   * `dryRun` only checks and reports. NotFoundError when unknown, ConflictError when running.
   */
  forget(ref: InstanceRef, options: { purge: boolean; dryRun: boolean }): Promise<ForgotView>;
  /**
   * Disables an instance: stops it (its data is kept) and keeps every request, spawn, restart and
   * deploy from starting it. Idempotent; NotFoundError when unknown.
   */
  disable(ref: InstanceRef): Promise<DisabledView>;
  /** Enables a disabled instance without starting it. Idempotent; NotFoundError when unknown. */
  enable(ref: InstanceRef): Promise<DisabledView>;
  /** The config in force; the API only asks which services it defines. */
  readonly config: { readonly services: ReadonlyMap<string, unknown> };
}

/** What forgetting an instance did (or, for a dry run, would do). */
export interface ForgotView {
  readonly key: string;
  /** Its data dir, `{data_dir}/{service}/{id}`. */
  readonly dataDir: string;
  readonly isPurged: boolean;
  readonly hadDataDir: boolean;
}

/** Re-reads the config file and puts it in force when it is good (the daemon). */
export interface ConfigReload {
  reload(): Promise<ReloadOutcome>;
}

/**
 * A stored token, as authentication needs it: its hash and whom it speaks for. Records from
 * before token kinds lack `kind` (see `kindOf`).
 */
export type TokenRecord =
  & Pick<TokenValue, "tokenId" | "sha256" | "tenant">
  & Partial<Pick<TokenValue, "kind" | "services" | "expiresAtMs">>;

/** Where API tokens are looked up, listed and revoked (the state store). */
export interface TokenLookup {
  /** The admin token made before tokens had ids (id `admin`). */
  getAdminToken(): Promise<TokenRecord | undefined>;
  getToken(tokenId: string): Promise<TokenRecord | undefined>;
  /** Records a use (the API calls it at most once a minute per token). */
  touchToken(tokenId: string, nowMs: number): Promise<void>;
  listTokens(): Promise<readonly TokenListing[]>;
  /** NotFoundError when unknown; ConflictError for the last admin token unless `force`. */
  revokeToken(
    tokenId: string,
    options: { readonly force: boolean; readonly nowMs: number },
  ): Promise<TokenValue>;
}

/** One entry of the audit trail, without the storage version. */
export type AuditRecord = Omit<AuditValue, "v">;

/** Where the audit trail is written and read (the state store). */
export interface AuditLog {
  appendAudit(entry: AuditRecord): Promise<void>;
  /** The newest `limit` entries, oldest first. */
  listAudit(limit: number): Promise<readonly AuditRecord[]>;
}

/** Filters of a log search. */
export interface LogFilter {
  readonly process?: string;
  readonly id?: string;
  readonly level?: "stdout" | "stderr" | "event";
  /** Full-text search: words, "phrases", prefix*, AND/OR/NOT. */
  readonly search?: string;
  /** Newest N; undefined: at most the store's cap. */
  readonly limit?: number;
  /** Unix ms, inclusive. */
  readonly sinceMs?: number;
  /** Unix ms, inclusive. */
  readonly untilMs?: number;
  /** Only lines after this row id, oldest first (a resumed stream). */
  readonly afterId?: number;
  /** Only this instance id, any service and case: a tenant's scope, applied in SQL first. */
  readonly scopeInstance?: string;
  /** Only these services, any case: a narrowed tenant's scope, applied in SQL first. */
  readonly scopeServices?: readonly string[];
  /** The instances the caller may read, checked before anything else; undefined: all. */
  readonly scope?: (process: string, id: string) => boolean;
}

/** The kept log lines and the live feed (the log store). */
export interface LogSource {
  /** Sees the lines written so far; after `flush()` resolves, every line appended before it. */
  query(filter: LogFilter): readonly LogEntryJson[];
  /** Resolves once every line appended so far is stored (the store writes in the background). */
  flush?(): Promise<void>;
  /** Calls `onEntry` for each new matching line until the returned function is called. */
  subscribe(filter: LogFilter, onEntry: (entry: LogEntryJson) => void): () => void;
}

/** Disk use of an instance's data dir `{data_dir}/{service}/{id}`. */
export interface StorageUsage {
  /**
   * Bytes of the files under the instance's data dir (0 when it does not exist); a measurement
   * up to `maxAgeMs` old may be reused (default: the meter's own cache time).
   */
  usedBytes(ref: InstanceRef, options?: { readonly maxAgeMs?: number }): Promise<number>;
  /** The service's `storage_quota_mb` in bytes, or null when it has none. */
  quotaBytes(service: string): number | null;
}

/** Which host names may get a certificate (the supervisor): a TLS permission gate. */
export interface NameGate {
  /**
   * True when `{service}.{domain}` (no id) routes to a configured service, or
   * `{id}.{service}.{domain}` to an instance that exists (in any state) or whose id the
   * service's `auto_create_allow` names. Random new ids are refused even under an open
   * `auto_create`, so names anyone can make up place no certificate orders.
   */
  mayObtainCertificate(service: string, id: string | undefined): boolean;
}

/** Built-in TLS's certificates (the certificate manager), when the daemon serves HTTPS. */
export interface CertificateSource {
  readonly domain: string;
  /** The ACME directory URL certificates come from. */
  readonly directoryUrl: string;
  status(): readonly CertStatus[];
}
