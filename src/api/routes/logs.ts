/**
 * `/api/logs` (search the log store) and `/api/logs/stream` (live, as server-sent events whose
 * ids are row ids: `Last-Event-ID` resumes from the store). Tenant tokens only see their own
 * instances; naming another tenant's instance is 403, and naming a service or instance that
 * neither exists nor left lines is 404.
 * @module
 */
import { formatInstanceKey } from "../../core/instance_key.ts";
import type { InstanceControl, LogFilter, LogSource } from "../api_ports.ts";
import type { LogEntryJson } from "../wire.ts";
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

/** Most lines one `/api/logs` call returns (and the most a resumed stream replays). */
export const MAX_LOG_LIMIT = 10_000;

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
    if (level !== "stdout" && level !== "stderr" && level !== "event") {
      throw new HttpError(400, `Invalid level "${level}": expected stdout, stderr or event`, {
        field: "level",
      });
    }
    filter.level = level;
  }
  if (search) filter.search = search;
  const since = params.get("since");
  const until = params.get("until");
  if (since) filter.sinceMs = timeOf(since, "since");
  if (until) filter.untilMs = timeOf(until, "until");
  if (limit !== null && !isStream) {
    if (!/^\d{1,9}$/.test(limit)) {
      throw new HttpError(400, `Invalid limit "${limit}": expected a whole number`, {
        field: "limit",
      });
    }
    filter.limit = Math.min(Number(limit), MAX_LOG_LIMIT);
  }
  return filter;
}

/** Unix ms from `ms` digits or an ISO 8601 date; 400 naming `field` otherwise. */
function timeOf(text: string, field: string): number {
  const ms = /^\d{1,15}$/.test(text)
    ? Number(text)
    : /^\d{4}-\d\d-\d\d/.test(text)
    ? Date.parse(text)
    : NaN;
  if (!Number.isFinite(ms)) {
    throw new HttpError(
      400,
      `Invalid ${field} "${text.slice(0, 64)}": expected Unix milliseconds or an ISO 8601 date`,
      { field },
    );
  }
  return ms;
}

/** The row id a reconnecting client saw last (`Last-Event-ID`), or undefined. */
function lastEventIdOf(req: Request): number | undefined {
  const text = req.headers.get("last-event-id");
  if (text === null || !/^\d{1,15}$/.test(text.trim())) return undefined;
  return Number(text.trim());
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
  const hasLines = (narrow: LogFilter): boolean =>
    deps.logs.query({ ...narrow, ...scopeOf(identity) }).length > 0;
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

/** Live streams one token may hold open at once; more get 429. */
export const MAX_STREAMS_PER_TOKEN = 4;

/**
 * Lines a stream holds for a reader that is slower than the logs: beyond this, new lines are
 * dropped and the reader is told how many (`: dropped N lines` comment) once it catches up.
 */
export const STREAM_QUEUE_LINES = 1_000;

/** One key per token, for the stream cap. */
function tokenKeyOf(identity: Identity): string {
  return identity.kind === "tenant" ? `tenant:${identity.tokenId}` : identity.kind;
}

/** Adds the log routes. */
export function addLogRoutes<C extends AuthedContext>(router: Router<C>, deps: LogRouteDeps): void {
  const { logs } = deps;
  /** Open streams by token. */
  const openStreams = new Map<string, number>();
  router
    .add("GET", "/api/logs", async (_req, ctx) => {
      // Lines appended before the request (an event of the call just made) are in the answer.
      await logs.flush?.();
      const filter = readableFilter(ctx.identity, filterOf(ctx.url.searchParams, false), deps);
      // The caller's scope is applied first, inside the search; the limit to what it may see.
      const scope = scopeOf(ctx.identity);
      return jsonResponse(logs.query({ ...filter, ...scope }));
    })
    .add("GET", "/api/logs/stream", (req, ctx) => {
      const filter = readableFilter(ctx.identity, filterOf(ctx.url.searchParams, true), deps);
      const afterId = lastEventIdOf(req) ?? afterIdOf(ctx.url.searchParams);
      // A bad search is a 400 now rather than a stream that never sends anything.
      if (filter.search !== undefined) logs.query({ ...filter, limit: 0 });
      const tokenKey = tokenKeyOf(ctx.identity);
      const open = openStreams.get(tokenKey) ?? 0;
      if (open >= MAX_STREAMS_PER_TOKEN) {
        throw new HttpError(
          429,
          `Too many log streams for this token (at most ${MAX_STREAMS_PER_TOKEN}): close one first`,
          { headers: { "retry-after": "5" } },
        );
      }
      openStreams.set(tokenKey, open + 1);
      const encoder = new TextEncoder();
      let unsubscribe = (): void => {};
      let keepAlive: ReturnType<typeof setInterval> | undefined;
      let isClosed = false;
      const close = (): void => {
        if (isClosed) return;
        isClosed = true;
        unsubscribe();
        clearInterval(keepAlive);
        const left = (openStreams.get(tokenKey) ?? 1) - 1;
        if (left > 0) openStreams.set(tokenKey, left);
        else openStreams.delete(tokenKey);
      };
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          let dropped = 0;
          /** Queues `text` unless the reader is behind; then counts it as dropped. */
          const send = (text: string, isLine: boolean): void => {
            if (isClosed) return;
            if ((controller.desiredSize ?? 0) <= 0) {
              if (isLine) dropped++;
              return;
            }
            if (dropped > 0) {
              controller.enqueue(encoder.encode(`: dropped ${dropped} lines (slow reader)\n\n`));
              dropped = 0;
            }
            controller.enqueue(encoder.encode(text));
          };
          const scoped = { ...filter, ...scopeOf(ctx.identity) };
          const event = (entry: LogEntryJson): string =>
            `id: ${entry.id}\ndata: ${JSON.stringify(entry)}\n\n`;
          // Synchronous from here to subscribe: no line can be stored in between, so the replay
          // and the live feed neither overlap nor leave a gap.
          if (afterId !== undefined) {
            // At most what the stream's queue holds, so the replay itself is never dropped.
            const replay = logs.query({ ...scoped, afterId, limit: STREAM_QUEUE_LINES });
            for (const entry of replay) send(event(entry), true);
            if (replay.length === STREAM_QUEUE_LINES) {
              send(
                `: replay capped at ${STREAM_QUEUE_LINES} lines; older ones via /api/logs\n\n`,
                false,
              );
            }
          }
          unsubscribe = logs.subscribe(scoped, (entry) => send(event(entry), true));
          keepAlive = setInterval(() => send(": keep-alive\n\n", false), 15_000);
          req.signal.addEventListener("abort", close);
        },
        cancel: close,
      }, new CountQueuingStrategy({ highWaterMark: STREAM_QUEUE_LINES }));
      return Promise.resolve(
        new Response(body, {
          headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
        }),
      );
    });
}

/** The scope of a log query: what `identity` may read (admin: everything). */
function scopeOf(
  identity: Identity,
): Pick<LogFilter, "scope" | "scopeInstance" | "scopeServices"> {
  if (identity.kind === "admin") return {};
  const scope = (process: string, id: string): boolean => canAccess(identity, process, id);
  // No instance id is empty, so "" matches nothing for identities without a tenant. A tenant
  // pinned to one instance ("service:id") narrows by its id here and by its service in `scope`.
  const tenant = identity.kind === "tenant" ? identity.tenant : "";
  const colon = tenant.indexOf(":");
  const services = colon >= 0
    ? [tenant.slice(0, colon)]
    : identity.kind === "tenant"
    ? identity.services
    : undefined;
  return {
    scope,
    scopeInstance: tenant.slice(colon + 1),
    ...(services === undefined ? {} : { scopeServices: services }),
  };
}

/** `?after=ID`: the same as `Last-Event-ID`, for clients that cannot set headers. */
function afterIdOf(params: URLSearchParams): number | undefined {
  const text = params.get("after");
  return text !== null && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}
