/**
 * The hop-by-hop header fields a proxy must not forward. Pure.
 * @module
 */

/** Hop-by-hop field names (RFC 9110 §7.6.1 plus the legacy `proxy-connection`), lower case. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
