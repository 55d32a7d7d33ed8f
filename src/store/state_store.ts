/**
 * Durable state in Deno KV (`{data_dir}/tenement.kv`): instances, weights and API tokens. The
 * supervisor keeps the working copy in memory; this is the copy that survives `kill -9`.
 * @module
 */
import { keys, SCHEMA_VERSION } from "./keys.ts";

/** Stored form of an instance (see supervisor `StoredInstance`). */
export interface InstanceValue {
  readonly v: 1;
  readonly service: string;
  readonly id: string;
  readonly desired: "running" | "asleep" | "stopped";
  readonly origin: "config" | "api" | "request";
  readonly restartsTotal: number;
  readonly process:
    | {
      readonly pid: number;
      readonly startTicks: number | undefined;
      readonly bootId: string | undefined;
      readonly port: number | undefined;
    }
    | undefined;
}

/** Stored API token: only its hash, never the token. */
export interface TokenValue {
  readonly v: 1;
  readonly tokenId: string;
  /** Hex SHA-256 of the token. */
  readonly sha256: string;
  /** Set for tenant tokens: the instance id this token may act on. */
  readonly tenant: string | undefined;
  readonly description: string | undefined;
  readonly createdAtMs: number;
}

/** Weights of a service at one moment (see supervisor `RouteSnapshot`). */
export interface RouteValue {
  readonly atMs: number;
  readonly weights: ReadonlyArray<{ readonly id: string; readonly weight: number }>;
}

/** One management action, as `ten history` shows it. */
export interface AuditValue {
  readonly v: 1;
  readonly atMs: number;
  /** `admin`, or `tenant:<token id>`. */
  readonly actor: string;
  readonly action: string;
  /** `service:id`, or a service name for route and rollback. */
  readonly target: string;
  readonly outcome: "ok" | "error";
  readonly details: string;
}

/** Most audit entries kept; the oldest go first. */
export const AUDIT_MAX_ENTRIES = 10_000;
/** Audit entries older than this (90 days) are deleted. */
export const AUDIT_MAX_AGE_MS = 90 * 24 * 60 * 60 * 1000;
const AUDIT_DELETE_BATCH = 100;

/** The KV-backed store. Dispose closes the database. */
export class StateStore implements Disposable {
  readonly #kv: Deno.Kv;
  #auditSeq = 0;

  private constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Opens (creating if needed) the store at `path`. */
  static async open(path: string): Promise<StateStore> {
    const kv = await Deno.openKv(path);
    const version = await kv.get<number>(keys.schemaVersion());
    if (version.value === null) await kv.set(keys.schemaVersion(), SCHEMA_VERSION);
    return new StateStore(kv);
  }

  /** Every stored instance. */
  async listInstances(): Promise<InstanceValue[]> {
    const out: InstanceValue[] = [];
    for await (const e of this.#kv.list<InstanceValue>({ prefix: keys.instances() })) {
      out.push(e.value);
    }
    return out;
  }

  /** Writes one instance. */
  async putInstance(value: Omit<InstanceValue, "v">): Promise<void> {
    await this.#kv.set(keys.instance(value.service, value.id), { v: 1, ...value });
  }

  /** Every stored weight. */
  async listWeights(): Promise<Array<{ service: string; id: string; weight: number }>> {
    const out: Array<{ service: string; id: string; weight: number }> = [];
    for await (const e of this.#kv.list<{ v: 1; weight: number }>({ prefix: keys.weights() })) {
      const [, service, id] = e.key;
      out.push({ service: String(service), id: String(id), weight: e.value.weight });
    }
    return out;
  }

  /** Writes one weight. */
  async putWeight(service: string, id: string, weight: number): Promise<void> {
    await this.#kv.set(keys.weight(service, id), { v: 1, weight });
  }

  /** Writes weights and the routing they replace in one atomic commit. */
  async commitRoute(
    service: string,
    weights: ReadonlyArray<{ readonly id: string; readonly weight: number }>,
    previous: RouteValue,
  ): Promise<void> {
    let op = this.#kv.atomic().set(keys.lastRoute(service), { v: 1, ...previous });
    for (const change of weights) {
      op = op.set(keys.weight(service, change.id), { v: 1, weight: change.weight });
    }
    const res = await op.commit();
    if (!res.ok) throw new Error(`Cannot store the new routing of "${service}"`);
  }

  /** The routing the last route change of `service` replaced. */
  async lastRoute(service: string): Promise<RouteValue | undefined> {
    const value = (await this.#kv.get<RouteValue & { v: 1 }>(keys.lastRoute(service))).value;
    return value === null ? undefined : { atMs: value.atMs, weights: value.weights };
  }

  /** Deletes an instance's record and weight in one atomic commit. */
  async forgetInstance(service: string, id: string): Promise<void> {
    const res = await this.#kv.atomic()
      .delete(keys.instance(service, id))
      .delete(keys.weight(service, id))
      .commit();
    if (!res.ok) throw new Error(`Cannot forget "${service}:${id}" in the store`);
  }

  /**
   * Appends one audit entry, then rotates the trail: entries older than
   * {@linkcode AUDIT_MAX_AGE_MS} go, and the oldest go beyond {@linkcode AUDIT_MAX_ENTRIES}.
   */
  async appendAudit(entry: Omit<AuditValue, "v">): Promise<void> {
    await this.#kv.set(keys.audit(entry.atMs, this.#auditSeq++), { v: 1, ...entry });
    await this.#queueRotation(entry.atMs, {}, 1);
  }

  /** Audit entries, counted once per open and then kept up to date by append and rotate. */
  #auditCount: number | undefined;

  /**
   * Deletes audit entries older than `maxAgeMs` before `nowMs`, then the oldest beyond
   * `maxEntries`. Cheap when nothing is due: one empty range read.
   */
  rotateAudit(
    nowMs: number,
    limits: { maxEntries?: number; maxAgeMs?: number } = {},
  ): Promise<void> {
    return this.#queueRotation(nowMs, limits, 0);
  }

  #auditRotation: Promise<void> = Promise.resolve();

  /** One rotation at a time, so the running count stays exact; `added` entries were just set. */
  #queueRotation(
    nowMs: number,
    limits: { maxEntries?: number; maxAgeMs?: number },
    added: number,
  ): Promise<void> {
    const run = this.#auditRotation.then(() => this.#rotateAudit(nowMs, limits, added));
    this.#auditRotation = run.catch(() => {});
    return run;
  }

  async #rotateAudit(
    nowMs: number,
    limits: { maxEntries?: number; maxAgeMs?: number },
    added: number,
  ): Promise<void> {
    const maxEntries = limits.maxEntries ?? AUDIT_MAX_ENTRIES;
    const maxAgeMs = limits.maxAgeMs ?? AUDIT_MAX_AGE_MS;
    if (this.#auditCount === undefined) {
      let count = 0;
      for await (const _ of this.#kv.list({ prefix: keys.audits() })) count++;
      this.#auditCount = count;
    } else {
      this.#auditCount += added;
    }
    const cutoff = [...keys.audits(), nowMs - maxAgeMs];
    const stale: Deno.KvKey[] = [];
    for await (const e of this.#kv.list({ prefix: keys.audits(), end: cutoff })) {
      stale.push(e.key);
    }
    const excess = this.#auditCount - stale.length - maxEntries;
    if (excess > 0) {
      const oldest = this.#kv.list({ prefix: keys.audits(), start: cutoff }, { limit: excess });
      for await (const e of oldest) stale.push(e.key);
    }
    // At most 10 mutations per atomic commit are guaranteed everywhere: delete in batches.
    for (let i = 0; i < stale.length; i += AUDIT_DELETE_BATCH) {
      let op = this.#kv.atomic();
      for (const key of stale.slice(i, i + AUDIT_DELETE_BATCH)) op = op.delete(key);
      await op.commit();
    }
    this.#auditCount -= stale.length;
  }

  /** The newest `limit` audit entries, oldest first. */
  async listAudit(limit: number): Promise<AuditValue[]> {
    const out: AuditValue[] = [];
    const iter = this.#kv.list<AuditValue>({ prefix: keys.audits() }, { reverse: true, limit });
    for await (const e of iter) out.push(e.value);
    return out.reverse();
  }

  /** Replaces the admin token (only one exists). */
  async setAdminToken(value: Omit<TokenValue, "v">): Promise<void> {
    await this.#kv.set(keys.adminToken(), { v: 1, ...value });
  }

  /** The admin token record, if one was generated. */
  async getAdminToken(): Promise<TokenValue | undefined> {
    return (await this.#kv.get<TokenValue>(keys.adminToken())).value ?? undefined;
  }

  /** Adds a tenant token. */
  async addTenantToken(value: Omit<TokenValue, "v">): Promise<void> {
    const tenant = value.tenant ?? "";
    await this.#kv.atomic()
      .set(keys.token(value.tokenId), { v: 1, ...value })
      .set(keys.tokenByTenant(tenant, value.tokenId), true)
      .commit();
  }

  /** Finds a tenant token by id. */
  async getToken(tokenId: string): Promise<TokenValue | undefined> {
    return (await this.#kv.get<TokenValue>(keys.token(tokenId))).value ?? undefined;
  }

  /** Closes the database. */
  [Symbol.dispose](): void {
    this.#kv.close();
  }
}
