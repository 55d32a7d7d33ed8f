/**
 * The top-level request handler: the Host header decides between the proxy (instance and service
 * hosts) and tenement's own API.
 * @module
 */
import { parseHostRoute } from "../core/host_route.ts";
import type { ApiHandler } from "../api/api_handler.ts";
import type { ProxyHandler } from "../proxy/proxy_handler.ts";

/** Builds `(req, info) => Response` for Deno.serve. */
export function createDispatch(
  domain: string,
  proxy: ProxyHandler,
  api: ApiHandler,
): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response> {
  return (req, info) => {
    const clientIp = info.remoteAddr.hostname;
    const route = parseHostRoute(req.headers.get("host"), domain);
    switch (route.kind) {
      case "direct":
      case "weighted":
        return proxy(req, route, { clientIp });
      case "invalid":
        return Promise.resolve(
          new Response(`Bad request: invalid host: ${route.reason}\n`, {
            status: 400,
            headers: { "content-type": "text/plain; charset=utf-8" },
          }),
        );
      case "builtin":
        return api(req, clientIp);
    }
  };
}
