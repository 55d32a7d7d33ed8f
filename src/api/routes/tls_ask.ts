/**
 * `GET /api/tls/ask?domain=NAME`: the permission gate a TLS terminator in front of tenement asks
 * before it obtains a certificate on demand (Caddy's `on_demand_tls { ask … }`). 200 when the
 * name routes to the bare domain, a configured service or one of its instances (existing in any
 * state, or named by the service's `auto_create_allow`), 404 otherwise, so random names cannot
 * burn the certificate authority's rate limits. Built-in HTTPS asks the same gate. It needs no token, and answers only clients on this
 * machine (the terminator): 403 for anyone else, so it reveals nothing about tenants outside.
 * @module
 */
import { normalizeHost, parseHostRoute } from "../../core/host_route.ts";
import type { NameGate } from "../api_ports.ts";
import { HttpError } from "../http_error.ts";

/** The path of the gate. */
export const TLS_ASK_PATH = "/api/tls/ask";

/** Longest host name looked at (DNS names are at most 253 characters). */
const MAX_NAME = 253;

/**
 * True for loopback addresses, the only clients the gate answers.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(isLoopback("127.0.0.1"), true);
 * equal(isLoopback("::1"), true);
 * equal(isLoopback("203.0.113.7"), false);
 * ```
 */
export function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address === "::ffff:127.0.0.1";
}

/** Answers one ask; throws HttpError for a refusal or a bad request. */
export function answerTlsAsk(
  url: URL,
  clientIp: string,
  gate: NameGate,
  domain: string,
): Response {
  if (!isLoopback(clientIp)) {
    throw new HttpError(403, "The TLS ask endpoint answers clients on this machine only");
  }
  const name = url.searchParams.get("domain");
  if (name === null || name === "") {
    throw new HttpError(400, "Missing query parameter: domain", { field: "domain" });
  }
  if (name.length > MAX_NAME) {
    throw new HttpError(400, `domain is longer than ${MAX_NAME} characters`, { field: "domain" });
  }
  const route = parseHostRoute(name, domain);
  const isAllowed = route.kind === "direct"
    ? gate.mayObtainCertificate(route.service, route.id)
    : route.kind === "weighted"
    ? gate.mayObtainCertificate(route.service, undefined)
    : route.kind === "builtin" && normalizeHost(name) === normalizeHost(domain);
  if (!isAllowed) throw new HttpError(404, `No certificate for ${normalizeHost(name)}`);
  return Response.json({ domain: normalizeHost(name), allowed: true });
}
