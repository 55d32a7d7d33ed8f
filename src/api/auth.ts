/**
 * Bearer-token authentication for the management API: the admin token or a tenant token, compared
 * by hash in constant time. The token is checked first and only failures are limited
 * (`failure_limiter.ts`), so a valid token is never refused, however many bad ones arrive from the
 * same address (everyone behind one reverse proxy shares it).
 * @module
 */
import { formatInstanceKey } from "../core/instance_key.ts";
import { hashToken, isSameHash, tokenIdOf } from "../store/tokens.ts";
import type { TokenLookup } from "./api_ports.ts";
import { FailureLimiter, type FailureLimiterOptions } from "./failure_limiter.ts";
import { HttpError } from "./http_error.ts";

/** Who is calling. */
export type Identity =
  | { readonly kind: "admin" }
  | {
    readonly kind: "tenant";
    /** An instance id (any service), or `service:id` for one instance. */
    readonly tenant: string;
    readonly tokenId: string;
  };

const CHALLENGE = { "www-authenticate": 'Bearer realm="tenement"' };

/** Checks bearer tokens against the stored hashes. */
export class Authenticator {
  readonly #tokens: TokenLookup;
  readonly #now: () => number;
  readonly #failures: FailureLimiter;

  constructor(tokens: TokenLookup, now: () => number, limits: FailureLimiterOptions = {}) {
    this.#tokens = tokens;
    this.#now = now;
    this.#failures = new FailureLimiter(limits);
  }

  /**
   * The caller's identity; throws 401 for a missing, malformed or unknown token, or 429 instead
   * of 401 after repeated failures from `clientIp`. A valid token is never refused.
   */
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
    const identity = await this.#check(match[1]!);
    if (identity) return identity;
    // Recorded after the check, with no await in between: concurrent failures all count.
    const verdict = this.#failures.recordFailure(clientIp, this.#now());
    if (verdict.isLimited) {
      throw new HttpError(429, "Too many failed authentication attempts, retry later", {
        headers: { "retry-after": String(verdict.retryAfterSeconds) },
      });
    }
    throw new HttpError(401, "Invalid token", { headers: CHALLENGE });
  }

  async #check(token: string): Promise<Identity | undefined> {
    const hash = await hashToken(token);
    const admin = await this.#tokens.getAdminToken();
    if (admin && isSameHash(admin.sha256, hash)) return { kind: "admin" };
    if (token.length < 8) return undefined;
    const tenant = await this.#tokens.getToken(tokenIdOf(token));
    if (tenant?.tenant !== undefined && isSameHash(tenant.sha256, hash)) {
      return { kind: "tenant", tenant: tenant.tenant, tokenId: tenant.tokenId };
    }
    return undefined;
  }
}

/**
 * True when `identity` may act on instance `service:id`; without a service, on an instance `id`
 * of some service.
 */
export function canAccess(identity: Identity, service: string | undefined, id: string): boolean {
  if (identity.kind === "admin") return true;
  // Ids are case-insensitive, like the host names they appear in.
  const tenant = identity.tenant.toLowerCase();
  const wanted = id.toLowerCase();
  if (tenant === wanted) return true;
  return service === undefined
    ? tenant.endsWith(`:${wanted}`)
    : tenant === formatInstanceKey({ service, id: wanted }).toLowerCase();
}

/** Throws 403 unless `identity` may act on `service:id` (see {@linkcode canAccess}). */
export function assertAccess(identity: Identity, service: string | undefined, id: string): void {
  if (!canAccess(identity, service, id)) {
    throw new HttpError(
      403,
      `Tenant token can only access instance '${
        identity.kind === "tenant" ? identity.tenant : ""
      }'`,
    );
  }
}
