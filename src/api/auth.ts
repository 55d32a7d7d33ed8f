/**
 * Bearer-token authentication for the management API: the admin token or a tenant token, compared
 * by hash in constant time, with a failure limit per client address (one attacker cannot lock out
 * the admin).
 * @module
 */
import { formatInstanceKey } from "../core/instance_key.ts";
import { hashToken, isSameHash, tokenIdOf } from "../store/tokens.ts";
import type { TokenLookup } from "./api_ports.ts";
import { HttpError } from "./http_error.ts";

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
  };

const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;
const CHALLENGE = { "www-authenticate": 'Bearer realm="tenement"' };

/** Checks bearer tokens against the stored hashes. */
export class Authenticator {
  readonly #tokens: TokenLookup;
  readonly #now: () => number;
  /** Failure times by client address, for the failure limit. */
  readonly #failures = new Map<string, number[]>();

  constructor(tokens: TokenLookup, now: () => number) {
    this.#tokens = tokens;
    this.#now = now;
  }

  /** The caller's identity; throws 401 (or 429 after repeated failures from `clientIp`). */
  async authenticate(req: Request, clientIp: string): Promise<Identity> {
    const now = this.#now();
    const recent = (this.#failures.get(clientIp) ?? []).filter((atMs) =>
      now - atMs < FAILURE_WINDOW_MS
    );
    if (recent.length >= MAX_FAILURES) {
      throw new HttpError(429, "Too many failed authentication attempts, retry later", {
        headers: { "retry-after": "60" },
      });
    }
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
    if (identity) {
      this.#failures.delete(clientIp);
      return identity;
    }
    recent.push(now);
    this.#failures.set(clientIp, recent);
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
  if (identity.kind !== "tenant") return false;
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
