/**
 * Header rules for the reverse proxy: which request headers go to an instance and which response
 * headers come back. Pure: no I/O.
 * @module
 */

/** Hop-by-hop header names (RFC 9110 §7.6.1 plus the legacy `proxy-connection`), lower case. */
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

/** Facts about the client connection that the upstream cannot see for itself. */
export interface ForwardInfo {
  /** Address of the peer that connected to the proxy. */
  readonly clientIp: string;
  /** Scheme the client used to reach the proxy. */
  readonly proto: "http" | "https";
  /** Host the client asked for (without trusting any incoming `X-Forwarded-Host`). */
  readonly host: string;
  /**
   * Whether an incoming `X-Forwarded-For` list came from a trusted proxy in front of us; when
   * false the list is replaced by `clientIp` so a client cannot spoof its address.
   * @default {true}
   */
  readonly trustIncoming?: boolean;
}

/**
 * Removes, in place, every hop-by-hop header and every header named in `Connection`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const h = new Headers({ connection: "x-trace", "x-trace": "1", accept: "text/html" });
 * stripHopByHop(h);
 * equal([...h.keys()].join(","), "accept");
 * ```
 */
export function stripHopByHop(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection !== null) {
    for (const name of connectionOptions(connection)) {
      // An invalid token would make Headers throw; it cannot name a real header anyway.
      if (isToken(name)) headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP_HEADERS) headers.delete(name);
}

/**
 * Filters hop-by-hop fields, and those named in `Connection`, out of a parsed field list. Names
 * must already be lower case (as `parseResponseHead` yields them). The upstream client uses it on
 * every response, because building `Headers` and then deleting from it costs several times more.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(
 *   filterHopByHop([["connection", "close"], ["content-length", "5"], ["keep-alive", "timeout=5"]]),
 *   [["content-length", "5"]],
 * );
 * ```
 */
export function filterHopByHop(fields: readonly (readonly [string, string])[]): [string, string][] {
  let listed: Set<string> | null = null;
  for (const [name, value] of fields) {
    if (name !== "connection") continue;
    listed ??= new Set();
    for (const option of connectionOptions(value)) listed.add(option);
  }
  const out: [string, string][] = [];
  for (const [name, value] of fields) {
    if (HOP_BY_HOP_HEADERS.has(name) || listed?.has(name) === true) continue;
    out.push([name, value]);
  }
  return out;
}

/**
 * Builds the headers sent to an instance: the client's end-to-end headers unchanged (including
 * `Host`, `Authorization`, `Cookie`), hop-by-hop headers removed, and `X-Forwarded-*` set.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const out = forwardHeaders(new Headers({ host: "alice.notes.example.com" }), {
 *   clientIp: "203.0.113.7",
 *   proto: "https",
 *   host: "alice.notes.example.com",
 * });
 * equal(out.get("x-forwarded-for"), "203.0.113.7");
 * equal(out.get("x-forwarded-proto"), "https");
 * ```
 */
export function forwardHeaders(incoming: Headers, info: ForwardInfo): Headers {
  const out = new Headers();
  // Declared wide on purpose: TypeScript does not see the assignment inside the callback.
  let previous = null as string | null;
  // forEach + append: Deno's Headers iterator costs several µs per call, forEach a tenth of that.
  copyEndToEnd(incoming, out, (name, value) => {
    if (name === "x-forwarded-for") previous = value;
    return name !== "x-forwarded-for" && name !== "x-forwarded-proto" &&
      name !== "x-forwarded-host";
  });
  const list = info.trustIncoming === false ? null : previous;
  out.append(
    "x-forwarded-for",
    list === null || list.trim() === "" ? info.clientIp : `${list}, ${info.clientIp}`,
  );
  out.append("x-forwarded-proto", info.proto);
  out.append("x-forwarded-host", info.host);
  return out;
}

/**
 * Builds the headers returned to the client from an instance's response: hop-by-hop headers
 * removed, everything else (`Content-Length`, `Content-Encoding`, every `Set-Cookie`) untouched.
 */
export function responseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  copyEndToEnd(upstream, out, () => true);
  return out;
}

/** Appends to `to` every end-to-end field of `from` that `keep` accepts. */
function copyEndToEnd(
  from: Headers,
  to: Headers,
  keep: (name: string, value: string) => boolean,
): void {
  const connection = from.get("connection");
  const listed = connection === null ? null : new Set(connectionOptions(connection));
  from.forEach((value, name) => {
    if (HOP_BY_HOP_HEADERS.has(name) || listed?.has(name) === true) return;
    if (keep(name, value)) to.append(name, value);
  });
}

/** The lower-cased, non-empty options listed in a `Connection` value. */
function connectionOptions(value: string): string[] {
  const options: string[] = [];
  for (const token of value.split(",")) {
    const option = token.trim().toLowerCase();
    if (option !== "") options.push(option);
  }
  return options;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function isToken(value: string): boolean {
  return TOKEN.test(value);
}
