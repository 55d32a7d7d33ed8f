/**
 * The management API: public routes, then bearer auth, then the route table. Every error is
 * rendered by `http_error.ts`. Built from the narrow interfaces of `api_ports.ts`, so it runs
 * with fakes as well as with the supervisor, the state store and the log ring.
 * @module
 */
import type { MetricsRegistry } from "../metrics/registry.ts";
import type {
  AuditLog,
  CertificateSource,
  ConfigReload,
  InstanceControl,
  LogSource,
  NameGate,
  StorageUsage,
  TokenLookup,
} from "./api_ports.ts";
import { assertApiAccess, Authenticator, canAccess, type Identity } from "./auth.ts";
import { errorResponse, HttpError } from "./http_error.ts";
import { Router } from "./router.ts";
import type { AuditSink } from "./audit.ts";
import { addDeployRoutes } from "./routes/deploy.ts";
import { withStorage } from "./measured_view.ts";
import { addInstanceRoutes } from "./routes/instances.ts";
import { addLogRoutes } from "./routes/logs.ts";
import { addReloadRoute } from "./routes/reload.ts";
import { addTokenRoutes } from "./routes/tokens.ts";
import { addWhoamiRoute } from "./routes/whoami.ts";
import { healthResponse, telemetryResponse } from "./routes/telemetry.ts";
import { metricsResponse } from "./routes/metrics.ts";
import { answerTlsAsk, TLS_ASK_PATH } from "./routes/tls_ask.ts";
import { certsResponse, TLS_CERTS_PATH } from "./routes/tls_certs.ts";

/** What the API is built from. */
export interface ApiDeps {
  /** Instance commands and queries (the supervisor). */
  readonly instances: InstanceControl & NameGate;
  /** Token hashes (the state store). */
  readonly tokens: TokenLookup;
  /** The audit trail (the state store). */
  readonly audit: AuditLog;
  readonly logs: LogSource;
  readonly storage: StorageUsage;
  readonly metrics: MetricsRegistry;
  readonly now: () => number;
  /** The domain whose subdomains route to instances (`ten serve --domain`). */
  readonly domain: string;
  /** Built-in TLS's certificates; undefined when the daemon serves plain HTTP only. */
  readonly certificates?: CertificateSource | undefined;
  /** Config reload (`POST /api/reload`). */
  readonly reload: ConfigReload;
  /**
   * Whether `/metrics` labels series with instance ids (`[settings] metrics_instance_label`),
   * read per scrape so a reload applies it. @default {() => true}
   */
  readonly metricsInstanceLabel?: () => boolean;
  /**
   * The dashboard: answers `GET /` and `/assets/*` (public: the assets hold no data), undefined
   * for other paths. Without it, `/` is a plain-text note.
   */
  readonly dashboard?: (req: Request) => Promise<Response | undefined>;
}

/** How old a data dir's measured size `/api/telemetry` may answer with. */
export const TELEMETRY_STORAGE_MAX_AGE_MS = 60_000;

/** Context of authenticated API handlers. */
export interface ApiContext {
  readonly identity: Identity;
}

/**
 * A handler for requests to tenement's own host; `clientIp` keys the failed-authentication limit.
 */
export type ApiHandler = (req: Request, clientIp: string) => Promise<Response>;

/** Builds the API handler. */
export function createApiHandler(deps: ApiDeps): ApiHandler {
  const auth = new Authenticator(deps.tokens, deps.now);
  const router = new Router<ApiContext>();
  const record: AuditSink = (entry) => deps.audit.appendAudit(entry);
  addInstanceRoutes(router, { ...deps, record });
  addLogRoutes(router, deps);
  addDeployRoutes(router, { ...deps, record });
  router.add(
    "GET",
    TLS_CERTS_PATH,
    (_req, ctx) => Promise.resolve(certsResponse(ctx.identity, deps.certificates)),
  );
  addReloadRoute(router, { ...deps, record });
  addTokenRoutes(router, { ...deps, record });
  addWhoamiRoute(router);
  router.add("GET", "/api/telemetry", async (_req, ctx) => {
    const visible = deps.instances.list({ all: true })
      .filter((view) => canAccess(ctx.identity, view.service, view.id));
    return telemetryResponse(
      deps.metrics,
      // Polled every 5 s by each open dashboard: walking every data dir that often is the
      // poll's whole cost with many instances, and disk use changes slowly.
      await withStorage(visible, deps.storage, { maxAgeMs: TELEMETRY_STORAGE_MAX_AGE_MS }),
      deps.now(),
    );
  });
  return async (req, clientIp) => {
    try {
      const url = new URL(req.url);
      if (req.method === "GET" || req.method === "HEAD") {
        if (url.pathname === "/health") return healthResponse();
        if (url.pathname === "/metrics") {
          // It names every tenant: an admin or metrics token (or `metrics_bind`'s own listener).
          const identity = await auth.authenticate(req, clientIp);
          if (identity.kind === "tenant") {
            throw new HttpError(403, "Metrics require an admin or metrics token");
          }
          return scrape(deps);
        }
        if (url.pathname === "/" || url.pathname.startsWith("/assets/")) {
          const page = await deps.dashboard?.(req);
          if (page !== undefined) return page;
          if (url.pathname === "/") return landingPage();
        }
        if (url.pathname === TLS_ASK_PATH) {
          return answerTlsAsk(url, clientIp, deps.instances, deps.domain);
        }
      }
      const identity = await auth.authenticate(req, clientIp);
      if (!url.pathname.startsWith("/api/")) throw new HttpError(404, "Not found");
      assertApiAccess(identity);
      return await router.handle(req, url, { identity });
    } catch (err: unknown) {
      return errorResponse(err);
    }
  };
}

/** The Prometheus text of `/metrics`. */
function scrape(deps: ApiDeps): Response {
  return metricsResponse(deps.metrics, deps.instances, deps.certificates, {
    instanceLabel: deps.metricsInstanceLabel?.() ?? true,
  });
}

/**
 * The handler of `[settings] metrics_bind`: `/metrics` without a token (the address is chosen to
 * be reachable by the scraper only), 404 for anything else.
 */
export function createMetricsHandler(deps: ApiDeps): (req: Request) => Response {
  return (req) => {
    const { pathname } = new URL(req.url);
    if ((req.method === "GET" || req.method === "HEAD") && pathname === "/metrics") {
      try {
        return scrape(deps);
      } catch (err: unknown) {
        return errorResponse(err);
      }
    }
    return errorResponse(new HttpError(404, "Not found: this listener serves /metrics only"));
  };
}

function landingPage(): Response {
  return new Response(
    "tenement is running.\nAPI: /api/instances (bearer token), health: /health, metrics: /metrics (bearer token)\n",
    { headers: { "content-type": "text/plain; charset=utf-8" } },
  );
}
