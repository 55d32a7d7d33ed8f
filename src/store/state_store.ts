/**
 * Durable state in Deno KV (`{data_dir}/.tenement/tenement.kv`): instances, weights and API tokens. The
 * supervisor keeps the working copy in memory; this is the copy that survives `kill -9`.
 * @module
 */
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { keys, SCHEMA_VERSION } from "./keys.ts";
import { ensurePrivateFile } from "./private_files.ts";
import {
  LEGACY_ADMIN_ID as LEGACY_ADMIN,
  type LegacyTokenValue,
  type TokenKind,
  upgradeTokenValue,
} from "./tokens.ts";

/** Stored form of an instance (see supervisor `StoredInstance`). */
export interface InstanceValue {
  readonly v: 1;
  readonly service: string;
  readonly id: string;
  readonly desired: "running" | "asleep" | "stopped";
  readonly origin: "config" | "api" | "request";
  readonly restartsTotal: number;
  /** `ten disable`: nothing starts it until `ten enable` (absent in records made before). */
  readonly isDisabled?: boolean;
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
  readonly v: 2;
  /** The token's first 8 characters (`admin` for the admin token made before ids). */
  readonly tokenId: string;
  /** Hex SHA-256 of the token. */
  readonly sha256: string;
  readonly kind: TokenKind;
  /** Tenant tokens: the instance id this token may act on (any service), or `service:id`. */
  readonly tenant: string | undefined;
  /** Tenant tokens with a bare id: the services it is narrowed to (undefined: all). */
  readonly services: readonly string[] | undefined;
  /** The label (`ten token-gen --description`). */
  readonly description: string | undefined;
  readonly createdAtMs: number;
  /** Refused from this time on; undefined never expires. */
  readonly expiresAtMs: number | undefined;
  /** The admin token saved to `{data_dir}/.tenement/api_token`, which the next `ten token-gen` replaces. */
  readonly isFileToken: boolean;
}

/** A stored token with its last use, as `ten token list` shows it. */
export interface TokenListing extends TokenValue {
  readonly lastUsedMs: number | undefined;
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

/** The instance a uid of `auto_user_range` belongs to. */
export interface UidValue {
  readonly v: 1;
  readonly service: string;
  readonly id: string;
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

  /** Opens (creating if needed, mode 0600) the store at `path`. */
  static async open(path: string): Promise<StateStore> {
    await ensurePrivateFile(path);
    const kv = await Deno.openKv(path);
    const version = await kv.get<number>(keys.schemaVersion());
    const store = new StateStore(kv);
    if (version.value !== SCHEMA_VERSION) {
      await store.#upgradeTokens();
      await kv.set(keys.schemaVersion(), SCHEMA_VERSION);
    }
    return store;
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

  /** The uid `user = "auto"` gave instance `service:id`, if any. */
  async uidOf(service: string, id: string): Promise<number | undefined> {
    const value = (await this.#kv.get<{ v: 1; uid: number }>(keys.uidByInstance(service, id)))
      .value;
    return value === null ? undefined : value.uid;
  }

  /** Every uid held by an instance. */
  async claimedUids(): Promise<Set<number>> {
    const uids = new Set<number>();
    for await (const entry of this.#kv.list<UidValue>({ prefix: keys.uids() })) {
      const uid = entry.key[1];
      if (typeof uid === "number") uids.add(uid);
    }
    return uids;
  }

  /**
   * Gives `uid` to instance `service:id` in one atomic commit, only when neither the uid nor the
   * instance holds one yet; false when either does (a race: look again).
   */
  async claimUid(service: string, id: string, uid: number): Promise<boolean> {
    const res = await this.#kv.atomic()
      .check({ key: keys.uid(uid), versionstamp: null })
      .check({ key: keys.uidByInstance(service, id), versionstamp: null })
      .set(keys.uid(uid), { v: 1, service, id } satisfies UidValue)
      .set(keys.uidByInstance(service, id), { v: 1, uid })
      .commit();
    return res.ok;
  }

  /** Frees the uid of instance `service:id` (`ten rm --purge`); nothing when it holds none. */
  async releaseUid(service: string, id: string): Promise<void> {
    const held = await this.#kv.get<{ v: 1; uid: number }>(keys.uidByInstance(service, id));
    if (held.value === null) return;
    const res = await this.#kv.atomic()
      .check(held)
      .delete(keys.uid(held.value.uid))
      .delete(keys.uidByInstance(service, id))
      .commit();
    if (!res.ok) throw new Error(`Cannot free the uid of "${service}:${id}": it changed meanwhile`);
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

  /** The admin token made before tokens had ids (id `admin`), if it is still there. */
  getAdminToken(): Promise<TokenValue | undefined> {
    return this.getToken(LEGACY_ADMIN);
  }

  /** The token with this id. */
  async getToken(tokenId: string): Promise<TokenValue | undefined> {
    const entry = await this.#kv.get<TokenValue | LegacyTokenValue>(keys.token(tokenId));
    return entry.value === null ? undefined : upgradeTokenValue(entry.value);
  }

  /**
   * Stores a new token; false when its id is taken. A new file admin token replaces the admin
   * tokens saved to the file before, in the same commit.
   */
  async insertToken(value: TokenValue): Promise<boolean> {
    let op = this.#kv.atomic()
      .check({ key: keys.token(value.tokenId), versionstamp: null })
      .set(keys.token(value.tokenId), value);
    if (value.tenant !== undefined) {
      op = op.set(keys.tokenByTenant(value.tenant, value.tokenId), true);
    }
    if (value.isFileToken) {
      for (const old of await this.#tokenEntries()) {
        if (old.value.kind !== "admin" || !old.value.isFileToken) continue;
        op = this.#deleteToken(op.check(old), old.value);
      }
    }
    return (await op.commit()).ok;
  }

  /** Records that a token was used; nothing when it was revoked meanwhile. */
  async touchToken(tokenId: string, nowMs: number): Promise<void> {
    const entry = await this.#kv.get(keys.token(tokenId));
    if (entry.value === null) return;
    // The check keeps a use that races a revocation from leaving a stray entry behind.
    await this.#kv.atomic().check(entry).set(keys.tokenLastUsed(tokenId), { v: 1, atMs: nowMs })
      .commit();
  }

  /** Every token with its last use, oldest first. */
  async listTokens(): Promise<TokenListing[]> {
    const lastUsed = new Map<string, number>();
    const uses = this.#kv.list<{ v: 1; atMs: number }>({ prefix: keys.tokensLastUsed() });
    for await (const e of uses) lastUsed.set(String(e.key[1]), e.value.atMs);
    return (await this.#tokenEntries())
      .map((e) => ({ ...e.value, lastUsedMs: lastUsed.get(e.value.tokenId) }))
      .sort((a, b) => a.createdAtMs - b.createdAtMs || a.tokenId.localeCompare(b.tokenId));
  }

  /**
   * Deletes a token; the next request with it is refused. NotFoundError when unknown;
   * ConflictError for the last admin token that has not expired, unless `force`.
   */
  async revokeToken(
    tokenId: string,
    options: { readonly force: boolean; readonly nowMs: number },
  ): Promise<TokenValue> {
    const entries = await this.#tokenEntries();
    const target = entries.find((e) => e.value.tokenId === tokenId);
    if (target === undefined) throw new NotFoundError(`Token not found: "${tokenId}"`);
    let op = this.#deleteToken(this.#kv.atomic().check(target), target.value);
    if (target.value.kind === "admin" && !options.force) {
      const others = entries.filter((e) =>
        e !== target && e.value.kind === "admin" &&
        (e.value.expiresAtMs === undefined || e.value.expiresAtMs > options.nowMs)
      );
      if (others.length === 0) {
        throw new ConflictError(
          `Cannot revoke "${tokenId}": it is the last admin token, and without one the API ` +
            "refuses every admin request (make another with `ten token-gen --add` first, or " +
            "pass --force)",
        );
      }
      // Two revocations at once must not both count the other's token as the one left.
      for (const other of others) op = op.check(other);
    }
    if (!(await op.commit()).ok) {
      throw new ConflictError(`Cannot revoke "${tokenId}": tokens changed meanwhile, retry`);
    }
    return target.value;
  }

  async #tokenEntries(): Promise<
    Array<{ key: Deno.KvKey; value: TokenValue; versionstamp: string }>
  > {
    const out: Array<{ key: Deno.KvKey; value: TokenValue; versionstamp: string }> = [];
    for await (const e of this.#kv.list<TokenValue | LegacyTokenValue>({ prefix: keys.tokens() })) {
      out.push({ key: e.key, value: upgradeTokenValue(e.value), versionstamp: e.versionstamp });
    }
    return out;
  }

  #deleteToken(op: Deno.AtomicOperation, value: TokenValue): Deno.AtomicOperation {
    op = op.delete(keys.token(value.tokenId)).delete(keys.tokenLastUsed(value.tokenId));
    return value.tenant === undefined
      ? op
      : op.delete(keys.tokenByTenant(value.tenant, value.tokenId));
  }

  /** Rewrites token records of older versions in the current form (the old admin token too). */
  async #upgradeTokens(): Promise<void> {
    for await (const e of this.#kv.list<TokenValue | LegacyTokenValue>({ prefix: keys.tokens() })) {
      if (e.value.v === 2) continue;
      // A failed check means another process upgraded or changed it meanwhile: nothing to do.
      await this.#kv.atomic().check(e).set(e.key, upgradeTokenValue(e.value)).commit();
    }
  }

  /** Closes the database. */
  [Symbol.dispose](): void {
    this.#kv.close();
  }
}
