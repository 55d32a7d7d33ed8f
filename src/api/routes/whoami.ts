/**
 * `GET /api/whoami`: what the caller's token is (`admin`, `tenant` or, refused before this,
 * `metrics`) and what it may reach, so a client such as the dashboard can show only the actions
 * the token may take. Reveals nothing the token's holder does not already know.
 * @module
 */
import type { Identity } from "../auth.ts";
import { jsonResponse } from "../http_error.ts";
import type { Router } from "../router.ts";
import type { TokenJson } from "../wire.ts";

/** Answer of `GET /api/whoami`: the token's kind and reach, as `GET /api/tokens` lists them. */
export type WhoamiJson = Pick<TokenJson, "kind" | "scope" | "tenant" | "services">;

/** The wire form of `identity`. */
export function whoamiJson(identity: Identity): WhoamiJson {
  switch (identity.kind) {
    case "admin":
      return { kind: "admin", scope: "all", tenant: null, services: null };
    case "metrics":
      return { kind: "metrics", scope: "/metrics", tenant: null, services: null };
    case "tenant":
      return {
        kind: "tenant",
        scope: identity.services === undefined
          ? identity.tenant
          : `${identity.tenant} in ${identity.services.join(",")}`,
        tenant: identity.tenant,
        services: identity.services ?? null,
      };
  }
}

/** Adds `GET /api/whoami`. */
export function addWhoamiRoute<C extends { readonly identity: Identity }>(router: Router<C>): void {
  router.add(
    "GET",
    "/api/whoami",
    (_req, ctx) => Promise.resolve(jsonResponse(whoamiJson(ctx.identity))),
  );
}
