/**
 * Proxies a request whose Host names an instance or a service: asks the supervisor for a target
 * (waking it if needed), forwards with the pooled upstream client, counts the request as activity
 * until its response body is done, and maps failures to 404/502/503/504 without leaking internals.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { HostRoute } from "../core/host_route.ts";
import { readStickyId } from "../core/sticky.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { Target, TargetResolver } from "../supervisor/supervisor.ts";
import {
  badGatewayPage,
  type ErrorPage,
  gatewayTimeoutPage,
  resolveFailurePage,
} from "./error_responses.ts";
import { forwardHeaders } from "./forward_headers.ts";
import {
  type UpstreamClient,
  UpstreamConnectError,
  type UpstreamTarget,
  UpstreamTimeoutError,
} from "./upstream_client.ts";

const log = getLogger(["tenement", "proxy"]);

/** What the proxy is built from. */
export interface ProxyDeps {
  readonly resolver: TargetResolver;
  readonly upstream: UpstreamClient;
  readonly metrics: MetricsRegistry;
  /** `http` or `https`, for X-Forwarded-Proto. */
  readonly proto: "http" | "https";
}

/** Facts about the client connection. */
export interface ClientInfo {
  readonly clientIp: string;
}

/** A proxy for direct and weighted routes. */
export type ProxyHandler = (
  req: Request,
  route: Extract<HostRoute, { kind: "direct" | "weighted" }>,
  client: ClientInfo,
) => Promise<Response>;

/** Builds the proxy handler. */
export function createProxyHandler(deps: ProxyDeps): ProxyHandler {
  const { resolver, upstream, metrics } = deps;
  return async (req, route, client) => {
    let target: Target;
    try {
      target = route.kind === "direct"
        ? await resolver.resolveDirect(route.service, route.id, req.signal)
        : await resolver.resolveWeighted(
          route.service,
          req.signal,
          readStickyId(req.headers.get("cookie"), route.service),
        );
    } catch (err: unknown) {
      return failure(req, err);
    }
    const url = new URL(req.url);
    const headers = forwardHeaders(req.headers, {
      clientIp: client.clientIp,
      proto: deps.proto,
      host: req.headers.get("host") ?? url.host,
    });
    const started = performance.now();
    for (let attempt = 0;; attempt++) {
      const done = resolver.beginRequest(target);
      try {
        const response = await upstream.send(upstreamTarget(target), {
          method: req.method,
          pathAndQuery: url.pathname + url.search,
          headers,
          body: req.body,
        }, { signal: req.signal, headersTimeoutMs: target.requestTimeoutMs, onDone: done });
        record(metrics, target, started);
        if (target.setCookie !== undefined) response.headers.append("set-cookie", target.setCookie);
        return response;
      } catch (err: unknown) {
        done();
        if (err instanceof UpstreamTimeoutError) {
          record(metrics, target, started);
          return toResponse(gatewayTimeoutPage());
        }
        const canRetry = attempt === 0 && err instanceof UpstreamConnectError &&
          (req.body === null || !req.body.locked) && !req.signal.aborted;
        if (canRetry) {
          const next = await resolver.waitForRestart(target, req.signal).catch(() => undefined);
          if (next) {
            target = next;
            continue;
          }
        }
        record(metrics, target, started);
        if (!req.signal.aborted) {
          log.warn("Upstream {key} failed: {err}", {
            key: `${target.service}:${target.id}`,
            err: err instanceof Error ? err.message : String(err),
          });
        }
        return toResponse(badGatewayPage());
      }
    }
  };
}

function upstreamTarget(t: Target): UpstreamTarget {
  return { kind: "tcp", hostname: "127.0.0.1", port: t.port };
}

function record(metrics: MetricsRegistry, t: Target, startedMs: number): void {
  const labels = { instance: t.id, process: t.service };
  metrics.requests.inc(labels);
  metrics.requestDuration.observe(labels, performance.now() - startedMs);
}

function failure(req: Request, err: unknown): Response {
  const page = resolveFailurePage(err, {
    accept: req.headers.get("accept"),
    isAborted: req.signal.aborted,
  });
  if (page.status === 503) {
    log.warn("Cannot serve {url}: {err}", {
      url: req.url,
      err: err instanceof Error ? err.message : String(err),
    });
  }
  return toResponse(page);
}

function toResponse(page: ErrorPage): Response {
  const headers = new Headers();
  for (const [name, value] of page.headers) headers.append(name, value);
  return new Response(page.body, { status: page.status, headers });
}
