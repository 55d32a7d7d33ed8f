/**
 * Request handlers for `Deno.serve`. The daemon's public listener is the raw front
 * (`proxy/front_server.ts`), which routes on Host itself and forwards tenement's own hosts to an
 * internal listener served by {@linkcode createApiDispatch}.
 * @module
 */
import type { ApiHandler } from "../api/api_handler.ts";

/**
 * The handler of the internal API listener behind the raw front. The front replaces any
 * `X-Forwarded-For` of requests to tenement's own hosts with the client's address alone (the
 * peer's, or behind a trusted proxy the client that proxy names, see `trusted_proxies`), so its
 * value is the client address here. The listener is a Unix socket in the data dir (0700), not
 * reachable by clients directly; a local process that can reach it anyway could choose its
 * address, which is why the failure limit also has a total over all addresses.
 */
export function createApiDispatch(api: ApiHandler): (req: Request) => Promise<Response> {
  return (req) => api(req, forwardedClientIp(req.headers.get("x-forwarded-for")));
}

/**
 * The client address the front put in `X-Forwarded-For`: its last entry (the front sends exactly
 * one), or loopback when there is none.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(forwardedClientIp("203.0.113.7"), "203.0.113.7");
 * equal(forwardedClientIp("10.0.0.1, 203.0.113.7"), "203.0.113.7");
 * equal(forwardedClientIp(null), "127.0.0.1");
 * ```
 */
export function forwardedClientIp(header: string | null): string {
  if (header === null) return "127.0.0.1";
  const last = header.slice(header.lastIndexOf(",") + 1).trim();
  return last === "" ? "127.0.0.1" : last;
}
