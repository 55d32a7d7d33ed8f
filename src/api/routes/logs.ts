/**
 * `/api/logs` (search the kept tail) and `/api/logs/stream` (live, as server-sent events). Tenant
 * tokens only see their own instances; naming another tenant's instance is 403, and naming a
 * service or instance that neither exists nor left lines is 404.
 * @module
 */
import { formatInstanceKey } from "../../core/instance_key.ts";
import type { InstanceControl, LogFilter, LogSource } from "../api_ports.ts";
import type { Identity } from "../auth.ts";
import { assertAccess, canAccess } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Router } from "../router.ts";

/** What the log routes need. */
export interface LogRouteDeps {
  readonly logs: LogSource;
  /** To tell an unknown service or instance (404) from one without lines yet. */
  readonly instances: Pick<InstanceControl, "get" | "config">;
}

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

/**
 * The filter to query with: 403 when it names an instance the caller may not read, 404 when it
 * names a service or instance that is unknown and has no kept lines (a stopped or asleep instance,
 * or one whose lines outlived it, is not an error), and the instance's own spelling of its id.
 */
function readableFilter(identity: Identity, filter: LogFilter, deps: LogRouteDeps): LogFilter {
  const { process, id } = filter;
  if (id !== undefined) assertAccess(identity, process, id);
  if (process === undefined) return filter;
  const hasLines = (narrow: LogFilter): boolean => deps.logs.query(narrow).length > 0;
  if (!deps.instances.config.services.has(process) && !hasLines({ process, limit: 1 })) {
    throw new HttpError(404, `Unknown service "${process}": it is not defined in the config`, {
      field: "process",
    });
  }
  if (id === undefined) return filter;
  // Ids are case-insensitive: lines are kept under the instance's own spelling.
  const known = deps.instances.get({ service: process, id });
  if (known !== undefined) return { ...filter, id: known.id };
  if (!hasLines({ process, id, limit: 1 })) {
    throw new HttpError(404, `Instance not found: ${formatInstanceKey({ service: process, id })}`);
  }
  return filter;
}

/** Adds the log routes. */
export function addLogRoutes<C extends AuthedContext>(router: Router<C>, deps: LogRouteDeps): void {
  const { logs } = deps;
  router
    .add("GET", "/api/logs", (_req, ctx) => {
      const filter = readableFilter(ctx.identity, filterOf(ctx.url.searchParams, false), deps);
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
      const filter = readableFilter(ctx.identity, filterOf(ctx.url.searchParams, true), deps);
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
