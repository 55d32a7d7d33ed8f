/**
 * A small route table over URLPattern: method match, path parameters, 404 and 405.
 * @module
 */
import { HttpError } from "./http_error.ts";

/** Per-request facts handlers may use. */
export interface RouteContext {
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
}

/** A route handler. */
export type RouteHandler<C> = (req: Request, ctx: C & RouteContext) => Promise<Response>;

interface Route<C> {
  readonly method: string;
  readonly pattern: URLPattern;
  readonly handler: RouteHandler<C>;
}

/** Routes requests by method and path. */
export class Router<C> {
  readonly #routes: Route<C>[] = [];

  /** Adds a route; `path` uses URLPattern syntax (`/api/instances/:id`). */
  add(method: string, path: string, handler: RouteHandler<C>): this {
    this.#routes.push({ method, pattern: new URLPattern({ pathname: path }), handler });
    return this;
  }

  /** Runs the matching handler; throws 404 for unknown paths and 405 for wrong methods. */
  async handle(req: Request, url: URL, ctx: C): Promise<Response> {
    let allowed: string[] = [];
    for (const route of this.#routes) {
      const match = route.pattern.exec({ pathname: url.pathname });
      if (!match) continue;
      if (route.method !== req.method && !(route.method === "GET" && req.method === "HEAD")) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(match.pathname.groups)) {
        if (v !== undefined) params[k] = safeDecode(v);
      }
      return await route.handler(req, { ...ctx, url, params });
    }
    if (allowed.length > 0) {
      allowed = [...new Set(allowed)];
      throw new HttpError(
        405,
        `Method ${req.method} not allowed (allowed: ${allowed.join(", ")})`,
        {
          headers: { allow: allowed.join(", ") },
        },
      );
    }
    throw new HttpError(404, "Not found");
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, `Invalid percent-encoding in path: ${text}`);
  }
}
