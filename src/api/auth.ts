/**
 * Bearer-token authentication for the management API: admin, tenant and metrics tokens, looked
 * up by id and compared by hash in constant time, refused once revoked or expired. The token is
 * checked first and only failures are limited (`failure_limiter.ts`), so a valid token is never
 * refused, however many bad ones arrive from the same address (everyone behind one reverse proxy
 * shares it).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatInstanceKey } from "../core/instance_key.ts";
import { hashToken, isSameHash, kindOf, tokenIdOf } from "../store/tokens.ts";
import type { TokenLookup, TokenRecord } from "./api_ports.ts";
import { FailureLimiter, type FailureLimiterOptions } from "./failure_limiter.ts";
import { HttpError } from "./http_error.ts";

const log = getLogger(["tenement", "api", "auth"]);

/** Who is calling. */
export type Identity =
  | { readonly kind: "admin" }
  /** Reads `/metrics` and nothing else. */
  | { readonly kind: "metrics" }
  | {
    readonly kind: "tenant";
    /** An instance id (any service), or `service:id` for one instance. */
    readonly tenant: string;
    readonly tokenId: string;
    /** A bare-id token narrowed to these services (`ten token-gen --services`). */
    readonly services?: readonly string[] | undefined;
  }
  /** Reads `/metrics` only: every `/api` route refuses it. */
  | { readonly kind: "metrics" };

/** A token's last use is written at most this often, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;
/** Bound of the table of last writes (it only holds tokens that were used). */
const MAX_TOUCHED = 10_000;

const CHALLENGE = { "www-authenticate": 'Bearer realm="tenement"' };

/** Checks bearer tokens against the stored hashes. */
export class Authenticator {
  readonly #tokens: TokenLookup;
  readonly #now: () => number;
  readonly #failures: FailureLimiter;
  /** When each token's last use was last written. */
  readonly #touchedAtMs = new Map<string, number>();

  constructor(tokens: TokenLookup, now: () => number, limits: FailureLimiterOptions = {}) {
    this.#tokens = tokens;
    this.#now = now;
    this.#failures = new FailureLimiter(limits);
  }

  /** The caller's identity; throws 401 (or 429 after repeated failures from `clientIp`). */
  async authenticate(req: Request, clientIp: string): Promise<Identity> {
    const header = req.headers.get("authorization");
    if (header === null) {
      throw new HttpError(401, "Missing Authorization: Bearer <token> header", {
        headers: CHALLENGE,
      });
    }
    const match = /^bearer (\S+)$/i.exec(header);
    if (!match) {
      throw new HttpError(401, "Malformed Authorization header: expected Bearer <token>", {
        headers: CHALLENGE,
      });
    }
    let refusal = new HttpError(401, "Invalid token", { headers: CHALLENGE });
    try {
      const identity = await this.#check(match[1]!);
      if (identity) return identity;
    } catch (error) {
      // An expired token is a failure like a wrong one: it counts toward the limit.
      if (!(error instanceof HttpError) || error.status !== 401) throw error;
      refusal = error;
    }
    // Recorded after the check, with no await in between: concurrent failures all count.
    const verdict = this.#failures.recordFailure(clientIp, this.#now());
    if (verdict.isLimited) {
      throw new HttpError(429, "Too many failed authentication attempts, retry later", {
        headers: { "retry-after": String(verdict.retryAfterSeconds) },
      });
    }
    throw refusal;
  }

  async #check(token: string): Promise<Identity | undefined> {
    const hash = await hashToken(token);
    const [byId, legacyAdmin] = await Promise.all([
      token.length < 8 ? undefined : this.#tokens.getToken(tokenIdOf(token)),
      this.#tokens.getAdminToken(),
    ]);
    const record = [byId, legacyAdmin].find((r) => r !== undefined && isSameHash(r.sha256, hash));
    if (record === undefined) return undefined;
    const now = this.#now();
    if (record.expiresAtMs !== undefined && record.expiresAtMs <= now) {
      throw new HttpError(
        401,
        `Token "${record.tokenId}" expired at ${new Date(record.expiresAtMs).toISOString()}`,
        { headers: CHALLENGE },
      );
    }
    const identity = identityOf(record);
    if (identity !== undefined) await this.#touch(record.tokenId, now);
    return identity;
  }

  /** Writes the token's last use unless it was written less than a minute ago. */
  async #touch(tokenId: string, now: number): Promise<void> {
    const lastMs = this.#touchedAtMs.get(tokenId);
    if (lastMs !== undefined && now - lastMs < TOUCH_INTERVAL_MS) return;
    if (this.#touchedAtMs.size >= MAX_TOUCHED) this.#touchedAtMs.clear();
    this.#touchedAtMs.set(tokenId, now);
    try {
      await this.#tokens.touchToken(tokenId, now);
    } catch (err: unknown) {
      // A last-used time is worth less than the request: note it and go on.
      log.warn("Cannot record the use of token {tokenId}: {err}", { tokenId, err: String(err) });
    }
  }
}

function identityOf(record: TokenRecord): Identity | undefined {
  switch (kindOf(record)) {
    case "admin":
      return { kind: "admin" };
    case "metrics":
      return { kind: "metrics" };
    case "tenant":
      if (record.tenant === undefined) return undefined;
      return {
        kind: "tenant",
        tenant: record.tenant,
        tokenId: record.tokenId,
        services: record.services,
      };
    default:
      return undefined;
  }
}

/** Throws 403 for identities that may not use `/api` routes at all (metrics tokens). */
export function assertApiAccess(identity: Identity): void {
  if (identity.kind === "metrics") {
    throw new HttpError(403, "A metrics token can only read /metrics");
  }
}

/**
 * True when `identity` may act on instance `service:id`; without a service, on an instance `id`
 * of some service.
 */
export function canAccess(identity: Identity, service: string | undefined, id: string): boolean {
  if (identity.kind === "admin") return true;
  if (identity.kind !== "tenant") return false;
  // Ids are case-insensitive, like the host names they appear in.
  const tenant = identity.tenant.toLowerCase();
  const wanted = id.toLowerCase();
  if (tenant === wanted) {
    const services = identity.services;
    return service === undefined || services === undefined ||
      services.some((s) => s.toLowerCase() === service.toLowerCase());
  }
  return service === undefined
    ? tenant.endsWith(`:${wanted}`)
    : tenant === formatInstanceKey({ service, id: wanted }).toLowerCase();
}

/** Throws 403 unless `identity` may act on `service:id` (see {@linkcode canAccess}). */
export function assertAccess(identity: Identity, service: string | undefined, id: string): void {
  if (canAccess(identity, service, id)) return;
  assertApiAccess(identity);
  const narrowed = identity.kind === "tenant" && identity.services !== undefined
    ? ` (services: ${identity.services.join(", ")})`
    : "";
  throw new HttpError(
    403,
    `Tenant token can only access instance '${
      identity.kind === "tenant" ? identity.tenant : ""
    }'${narrowed}`,
  );
}
