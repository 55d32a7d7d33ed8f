/**
 * `GET /api/tokens` and `DELETE /api/tokens/:id` (`ten token list`, `ten token revoke`): the
 * stored tokens without their secrets, and revocation, which the next request sees. Admin only.
 * @module
 */
import type { TokenLookup } from "../api_ports.ts";
import type { AuditSink } from "../audit.ts";
import type { Identity } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Router } from "../router.ts";
import type { RevokeTokenResponse, TokenJson } from "../wire.ts";
import type { TokenListing, TokenValue } from "../../store/state_store.ts";

/** What the token routes need. */
export interface TokenRouteDeps {
  readonly tokens: TokenLookup;
  readonly record: AuditSink;
  readonly now: () => number;
}

/** The wire form of a stored token at `nowMs`. */
export function tokenJson(
  token: TokenValue & { readonly lastUsedMs?: number | undefined },
  nowMs: number,
): TokenJson {
  return {
    id: token.tokenId,
    kind: token.kind,
    scope: scopeOf(token),
    tenant: token.tenant ?? null,
    services: token.services ?? null,
    label: token.description ?? null,
    created_at: new Date(token.createdAtMs).toISOString(),
    last_used_at: token.lastUsedMs === undefined ? null : new Date(token.lastUsedMs).toISOString(),
    expires_at: token.expiresAtMs === undefined ? null : new Date(token.expiresAtMs).toISOString(),
    expired: token.expiresAtMs !== undefined && token.expiresAtMs <= nowMs,
    file_token: token.isFileToken,
  };
}

function scopeOf(token: TokenValue): string {
  switch (token.kind) {
    case "admin":
      return "all";
    case "metrics":
      return "/metrics";
    case "tenant": {
      const tenant = token.tenant ?? "";
      return token.services === undefined ? tenant : `${tenant} in ${token.services.join(",")}`;
    }
  }
}

function requireAdmin(identity: Identity, what: string): void {
  if (identity.kind !== "admin") throw new HttpError(403, `${what} requires admin token`);
}

/** Adds the token routes to `router`. */
export function addTokenRoutes<C extends { readonly identity: Identity }>(
  router: Router<C>,
  deps: TokenRouteDeps,
): void {
  router.add("GET", "/api/tokens", async (_req, ctx) => {
    requireAdmin(ctx.identity, "Listing tokens");
    const nowMs = deps.now();
    const tokens: readonly TokenListing[] = await deps.tokens.listTokens();
    return jsonResponse(tokens.map((token) => tokenJson(token, nowMs)));
  });
  router.add("DELETE", "/api/tokens/:id", async (_req, ctx) => {
    requireAdmin(ctx.identity, "Revoking tokens");
    const force = ["1", "true"].includes(ctx.url.searchParams.get("force") ?? "");
    const atMs = deps.now();
    const revoked = await deps.tokens.revokeToken(ctx.params["id"] ?? "", { force, nowMs: atMs });
    await deps.record({
      atMs,
      actor: "admin",
      action: "revoke",
      target: `token:${revoked.tokenId}`,
      outcome: "ok",
      details: scopeOf(revoked),
    });
    const body: RevokeTokenResponse = { revoked: tokenJson(revoked, atMs) };
    return jsonResponse(body);
  });
}
