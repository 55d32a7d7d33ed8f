/**
 * The management API: public routes, then bearer auth, then the route table. Every error is
 * rendered by `http_error.ts`.
 * @module
 */
import type { LogRing } from "../logs/log_ring.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { StateStore } from "../store/state_store.ts";
import type { Supervisor } from "../supervisor/supervisor.ts";
import { Authenticator, canAccess, type Identity } from "./auth.ts";
import { errorResponse, HttpError } from "./http_error.ts";
import { Router } from "./router.ts";
import type { AuditSink } from "./audit.ts";
import { addDeployRoutes } from "./routes/deploy.ts";
import { addInstanceRoutes } from "./routes/instances.ts";
import { addLogRoutes } from "./routes/logs.ts";
import { healthResponse, metricsResponse, telemetryResponse } from "./routes/telemetry.ts";

/** What the API is built from. */
export interface ApiDeps {
  readonly supervisor: Supervisor;
  readonly store: StateStore;
  readonly logs: LogRing;
  readonly metrics: MetricsRegistry;
  readonly now: () => number;
}

/** Context of authenticated API handlers. */
export interface ApiContext {
  readonly identity: Identity;
}

/** A handler for requests to tenement's own host. */
export type ApiHandler = (req: Request, clientIp: string) => Promise<Response>;

/** Builds the API handler. */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const auth = new Authenticator(deps.store);
  const router = new Router<ApiContext>();
  const audit: AuditSink = (entry) => deps.store.appendAudit(entry);
  addInstanceRoutes(router, { ...deps, audit });
  addLogRoutes(router, deps.logs);
  addDeployRoutes(router, { ...deps, audit });
  router.add("GET", "/api/telemetry", (_req, ctx) => {
    const visible = deps.supervisor.list({ all: true })
      .filter((s) => canAccess(ctx.identity, s.service, s.id));
    return Promise.resolve(telemetryResponse(deps.metrics, visible, deps.now()));
  });
  return async (req, clientIp) => {
    try {
      const url = new URL(req.url);
      if (req.method === "GET" || req.method === "HEAD") {
        if (url.pathname === "/health") return healthResponse();
        if (url.pathname === "/metrics") return metricsResponse(deps.metrics, deps.supervisor);
        if (url.pathname === "/") return landingPage();
      }
      const identity = await auth.authenticate(req, clientIp);
      if (!url.pathname.startsWith("/api/")) throw new HttpError(404, "Not found");
      return await router.handle(req, url, { identity });
    } catch (err: unknown) {
      return errorResponse(err);
    }
  };
}

function landingPage(): Response {
  return new Response(
    "tenement is running.\nAPI: /api/instances (bearer token), health: /health, metrics: /metrics\n",
    { headers: { "content-type": "text/plain; charset=utf-8" } },
  );
}
