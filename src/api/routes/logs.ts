/**
 * `/api/logs` (search the kept tail) and `/api/logs/stream` (live, as server-sent events). Tenant
 * tokens only see their own instances.
 * @module
 */
import type { LogFilter, LogSource } from "../api_ports.ts";
import type { Identity } from "../auth.ts";
import { canAccess } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Router } from "../router.ts";

/** Context of an authenticated request. */
interface AuthedContext {
  readonly identity: Identity;
}

function filterOf(params: URLSearchParams, isStream: boolean): LogFilter {
  const filter: { -readonly [K in keyof LogFilter]: LogFilter[K] } = {};
  const process = params.get("process");
  const id = params.get("id");
  const level = params.get("level");
  const search = params.get("search");
  const limit = params.get("limit");
  if (process) filter.process = process;
  if (id) filter.id = id;
  if (level) {
    if (level !== "stdout" && level !== "stderr") {
      throw new HttpError(400, `Invalid level "${level}": expected stdout or stderr`, {
        field: "level",
      });
    }
    filter.level = level;
  }
  if (search) filter.search = search;
  if (limit !== null && !isStream) {
    if (!/^\d+$/.test(limit)) {
      throw new HttpError(400, `Invalid limit "${limit}": expected a whole number`, {
        field: "limit",
      });
    }
    filter.limit = Number(limit);
  }
  return filter;
}

/** Adds the log routes. */
export function addLogRoutes<C extends AuthedContext>(router: Router<C>, logs: LogSource): void {
  router
    .add("GET", "/api/logs", (_req, ctx) => {
      const filter = filterOf(ctx.url.searchParams, false);
      // The limit applies to what the caller may see, so it is applied after the access check.
      const { limit, ...unlimited } = filter;
      const visible = logs.query(unlimited)
        .filter((entry) => canAccess(ctx.identity, entry.process, entry.instance_id));
      const limited = limit === undefined
        ? visible
        : visible.slice(Math.max(0, visible.length - limit));
      return Promise.resolve(jsonResponse(limited));
    })
    .add("GET", "/api/logs/stream", (req, ctx) => {
      const filter = filterOf(ctx.url.searchParams, true);
      const encoder = new TextEncoder();
      let unsubscribe = (): void => {};
      let keepAlive: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          unsubscribe = logs.subscribe(filter, (entry) => {
            if (!canAccess(ctx.identity, entry.process, entry.instance_id)) return;
            controller.enqueue(encoder.encode(`data: ${JSON.stringify(entry)}\n\n`));
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
