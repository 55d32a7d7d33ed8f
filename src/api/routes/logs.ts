/**
 * `/api/logs` (search the kept tail) and `/api/logs/stream` (live, as server-sent events). Tenant
 * tokens only see their own instances.
 * @module
 */
import type { LogQuery, LogRing } from "../../logs/log_ring.ts";
import type { Identity } from "../auth.ts";
import { canAccess } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Router } from "../router.ts";

/** Context of an authenticated request. */
interface AuthedContext {
  readonly identity: Identity;
}

function queryOf(params: URLSearchParams, isStream: boolean): LogQuery {
  const q: { -readonly [K in keyof LogQuery]: LogQuery[K] } = {};
  const process = params.get("process");
  const id = params.get("id");
  const level = params.get("level");
  const search = params.get("search");
  const limit = params.get("limit");
  if (process) q.process = process;
  if (id) q.id = id;
  if (level) {
    if (level !== "stdout" && level !== "stderr") {
      throw new HttpError(400, `Invalid level "${level}": expected stdout or stderr`, {
        field: "level",
      });
    }
    q.level = level;
  }
  if (search) q.search = search;
  if (limit !== null && !isStream) {
    if (!/^\d+$/.test(limit)) {
      throw new HttpError(400, `Invalid limit "${limit}": expected a whole number`, {
        field: "limit",
      });
    }
    q.limit = Number(limit);
  }
  return q;
}

/** Adds the log routes. */
export function addLogRoutes<C extends AuthedContext>(router: Router<C>, logs: LogRing): void {
  router
    .add("GET", "/api/logs", (_req, ctx) => {
      const q = queryOf(ctx.url.searchParams, false);
      const { limit: _limit, ...unlimited } = q;
      const rows = logs.query(unlimited)
        .filter((e) => canAccess(ctx.identity, e.process, e.instance_id));
      const limited = q.limit === undefined ? rows : rows.slice(Math.max(0, rows.length - q.limit));
      return Promise.resolve(jsonResponse(limited));
    })
    .add("GET", "/api/logs/stream", (req, ctx) => {
      const q = queryOf(ctx.url.searchParams, true);
      const encoder = new TextEncoder();
      let unsubscribe = (): void => {};
      let keepAlive: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          unsubscribe = logs.subscribe(q, (e) => {
            if (!canAccess(ctx.identity, e.process, e.instance_id)) return;
            controller.enqueue(encoder.encode(`data: ${JSON.stringify(e)}\n\n`));
          });
          keepAlive = setInterval(
            () => controller.enqueue(encoder.encode(": keep-alive\n\n")),
            15_000,
          );
          req.signal.addEventListener("abort", () => {
            unsubscribe();
            clearInterval(keepAlive);
          });
        },
        cancel() {
          unsubscribe();
          clearInterval(keepAlive);
        },
      });
      return Promise.resolve(
        new Response(body, {
          headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
        }),
      );
    });
}
