/**
 * Byte-level head rewriting for the raw front. Requests: the client's head with hop-by-hop fields
 * dropped, framing re-stated, `X-Forwarded-*` added, every other line copied byte for byte.
 * Responses: passed through untouched unless something must change (hop-by-hop fields, HTTP/1.0
 * status line, sticky cookie, connection handling), and then only those lines change. Pure: no
 * I/O.
 * @module
 */
import { HOP_BY_HOP_HEADERS } from "./hop_by_hop.ts";
import type { RequestHead } from "./http1_request.ts";

/** How the request head is to be forwarded. */
export interface ForwardHeadOptions {
  /** Address of the peer that connected to the front. */
  readonly clientIp: string;
  /** Scheme the client used. */
  readonly proto: "http" | "https";
  /**
   * Keep an incoming `X-Forwarded-For` list and append `clientIp` (the peer is a trusted proxy);
   * false replaces the list with `clientIp` alone.
   */
  readonly trustForwardedFor: boolean;
  /** Forward `Upgrade` with `Connection: upgrade` (the request will be spliced on a 101). */
  readonly isUpgrade: boolean;
  /** Drop `Expect: 100-continue`: the front answers it itself. */
  readonly dropExpect: boolean;
  /** `Host` to send when the request has none (an HTTP/1.0 client). */
  readonly defaultHost: string;
  /**
   * Remembers the encoded `X-Forwarded-*` lines between calls: on one client connection they
   * only change when the Host does. Pass the same object for every request of a connection.
   */
  readonly cache?: ForwardedLinesCache | undefined;
}

/** Encoded `X-Forwarded-*` lines for one client address, scheme and Host. */
export interface ForwardedLinesCache {
  key: string | null;
  bytes: Uint8Array;
}

/** An empty cache for {@linkcode ForwardHeadOptions.cache}. */
export function newForwardedLinesCache(): ForwardedLinesCache {
  return { key: null, bytes: new Uint8Array(0) };
}

/**
 * The request's `X-Forwarded-For` fields joined into one list, or null without one.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseRequestHead } from "./http1_request.ts";
 * const src = new TextEncoder().encode(
 *   "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n",
 * );
 * equal(incomingForwardedFor(parseRequestHead(src)!), "1.1.1.1, 2.2.2.2");
 * ```
 */
export function incomingForwardedFor(head: RequestHead): string | null {
  let list: string | null = null;
  for (const field of head.headers) {
    if (field.name === "x-forwarded-for") {
      list = list === null ? field.value : `${list}, ${field.value}`;
    }
  }
  return list;
}

/** Fields a client may not make the front drop by naming them in `Connection`. */
const PROTECTED: ReadonlySet<string> = new Set(["host"]);
/** Fields replaced by the front's own values. */
const REPLACED: ReadonlySet<string> = new Set([
  "content-length",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
]);

const encoder = new TextEncoder();

/**
 * Builds the head sent to the upstream for `head`, parsed from `src`: the request line (re-made
 * only for absolute-form targets and HTTP/1.0 clients), every end-to-end field line byte for
 * byte, then the front's own lines: `Host` when it had to be made, the framing field, `Upgrade`,
 * and `X-Forwarded-For`/`-Proto`/`-Host`. Returns a view into `out` when it is large enough,
 * else into a new buffer.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseRequestHead } from "./http1_request.ts";
 * const src = new TextEncoder().encode(
 *   "GET /a HTTP/1.1\r\nHost: x.y\r\nConnection: keep-alive\r\nCookie: c=1\r\n\r\n",
 * );
 * const bytes = forwardRequestHead(src, parseRequestHead(src)!, {
 *   clientIp: "10.0.0.1",
 *   proto: "http",
 *   trustForwardedFor: true,
 *   isUpgrade: false,
 *   dropExpect: false,
 *   defaultHost: "127.0.0.1",
 * }, new Uint8Array(256));
 * equal(
 *   new TextDecoder().decode(bytes),
 *   "GET /a HTTP/1.1\r\nHost: x.y\r\nCookie: c=1\r\nx-forwarded-for: 10.0.0.1\r\n" +
 *     "x-forwarded-proto: http\r\nx-forwarded-host: x.y\r\n\r\n",
 * );
 * ```
 */
export function forwardRequestHead(
  src: Uint8Array,
  head: RequestHead,
  options: ForwardHeadOptions,
  out: Uint8Array,
): Uint8Array {
  const listed = head.connectionOptions;
  let forwardedFor: string | null = null;
  let hasHost = false;
  let isAnyDropped = false;
  for (const field of head.headers) {
    const name = field.name;
    if (name === "x-forwarded-for" && options.trustForwardedFor) {
      forwardedFor = forwardedFor === null ? field.value : `${forwardedFor}, ${field.value}`;
    } else if (name === "host") {
      hasHost = true;
    }
    if (!isAnyDropped && isDropped(name, head, listed, options)) isAnyDropped = true;
  }

  let extra = "";
  if (head.isAbsoluteForm || !hasHost) extra += `host: ${head.host ?? options.defaultHost}\r\n`;
  const framing = head.framing;
  if (framing.kind === "length") extra += `content-length: ${framing.length}\r\n`;
  else if (framing.kind === "chunked") extra += "transfer-encoding: chunked\r\n";
  if (options.isUpgrade && head.upgrade !== null) {
    extra += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n`;
  }
  const suffix = forwardedLines(head, options, forwardedFor);
  const isLineVerbatim = head.minorVersion === 1 && !head.isAbsoluteForm;
  const requestLine = isLineVerbatim ? "" : `${head.method} ${head.target} HTTP/1.1\r\n`;
  // Values may hold bytes 0x80-0xFF (one code unit each), which UTF-8 would widen: x3.
  const bound = head.headLength + requestLine.length + extra.length * 3 + suffix.length;
  const buf = out.length >= bound ? out : new Uint8Array(bound);
  let at: number;
  if (isLineVerbatim) {
    buf.set(src.subarray(head.requestLineStart, head.requestLineEnd), 0);
    at = head.requestLineEnd - head.requestLineStart;
  } else {
    at = writeLatin1(requestLine, buf, 0);
  }
  const fieldsEnd = head.headLength - 2;
  if (!isAnyDropped) {
    buf.set(src.subarray(head.requestLineEnd, fieldsEnd), at);
    at += fieldsEnd - head.requestLineEnd;
  } else {
    // Copy runs of kept lines between dropped ones.
    let runStart = -1;
    for (const field of head.headers) {
      if (isDropped(field.name, head, listed, options)) {
        if (runStart !== -1) {
          buf.set(src.subarray(runStart, field.start), at);
          at += field.start - runStart;
        }
        runStart = -1;
      } else if (runStart === -1) {
        runStart = field.start;
      }
    }
    if (runStart !== -1) {
      buf.set(src.subarray(runStart, fieldsEnd), at);
      at += fieldsEnd - runStart;
    }
  }
  if (extra !== "") at = writeLatin1(extra, buf, at);
  buf.set(suffix, at);
  at += suffix.length;
  return buf.subarray(0, at);
}

function isDropped(
  name: string,
  head: RequestHead,
  listed: readonly string[],
  options: ForwardHeadOptions,
): boolean {
  if (HOP_BY_HOP_HEADERS.has(name) || REPLACED.has(name)) return true;
  if (name === "host") return head.isAbsoluteForm;
  if (name === "expect") return options.dropExpect;
  return listed.length > 0 && listed.includes(name) && !PROTECTED.has(name);
}

/** The `X-Forwarded-*` lines and the blank line, from the cache when nothing changed. */
function forwardedLines(
  head: RequestHead,
  options: ForwardHeadOptions,
  incoming: string | null,
): Uint8Array {
  const host = head.host ?? "";
  const cache = options.cache;
  if (incoming === null && cache !== undefined && cache.key === host) return cache.bytes;
  const ip = options.clientIp;
  const text = `x-forwarded-for: ${incoming === null ? ip : `${incoming}, ${ip}`}\r\n` +
    `x-forwarded-proto: ${options.proto}\r\nx-forwarded-host: ${host}\r\n\r\n`;
  const bytes = new Uint8Array(text.length * 3);
  const encoded = bytes.subarray(0, writeLatin1(text, bytes, 0));
  if (incoming === null && cache !== undefined) {
    cache.key = host;
    cache.bytes = encoded;
  }
  return encoded;
}

/** Writes code units 0-255 one byte each (the inverse of how header values were decoded). */
function writeLatin1(text: string, out: Uint8Array, offset: number): number {
  const { read, written } = encoder.encodeInto(text, out.subarray(offset));
  if (read === text.length && written === text.length) return offset + written;
  let at = offset;
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i) & 0xff;
  return at;
}

/** What to change in a response head. */
export interface ResponseRewrite {
  /** Drop hop-by-hop fields and those named in `Connection` (never for a 101). */
  readonly dropHopByHop: boolean;
  /** Also drop `Transfer-Encoding` (the front decodes a chunked body for an HTTP/1.0 client). */
  readonly dropTransferEncoding: boolean;
  /** Lines to add before the blank line, each ending in CRLF. */
  readonly addLines: string;
}

/**
 * Rewrites the response head in `src[0, headLength)`: status line as HTTP/1.1, the fields the
 * rewrite drops left out, `addLines` appended, CRLF line ends. Kept lines are copied byte for
 * byte.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const src = new TextEncoder().encode("HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n\r\n");
 * const out = rewriteResponseHead(src, src.length, {
 *   dropHopByHop: true,
 *   dropTransferEncoding: false,
 *   addLines: "connection: close\r\n",
 * });
 * equal(new TextDecoder().decode(out), "HTTP/1.1 200 OK\r\nX-A: 1\r\nconnection: close\r\n\r\n");
 * ```
 */
export function rewriteResponseHead(
  src: Uint8Array,
  headLength: number,
  rewrite: ResponseRewrite,
): Uint8Array {
  const lines: [number, number][] = [];
  let lineStart = 0;
  while (lineStart < headLength) {
    const lf = src.indexOf(10, lineStart);
    if (lf === -1 || lf >= headLength) break;
    const lineEnd = lf > lineStart && src[lf - 1] === 13 ? lf - 1 : lf;
    if (lineEnd === lineStart) break;
    lines.push([lineStart, lineEnd]);
    lineStart = lf + 1;
  }
  const drop = new Set<string>();
  if (rewrite.dropHopByHop) {
    for (const name of HOP_BY_HOP_HEADERS) if (name !== "transfer-encoding") drop.add(name);
    for (let i = 1; i < lines.length; i++) {
      const [from, to] = lines[i]!;
      if (fieldName(src, from, to) !== "connection") continue;
      const value = latin1(src, src.indexOf(58, from) + 1, to);
      for (const option of value.split(",")) {
        const name = option.trim().toLowerCase();
        if (name !== "" && name !== "transfer-encoding") drop.add(name);
      }
    }
  }
  if (rewrite.dropTransferEncoding) drop.add("transfer-encoding");
  const addBytes = encoder.encode(rewrite.addLines);
  const out = new Uint8Array(headLength + lines.length + addBytes.length + 4);
  let at = 0;
  const [statusFrom, statusTo] = lines[0] ?? [0, 0];
  out.set(src.subarray(statusFrom, statusTo), 0);
  at = statusTo - statusFrom;
  if (at >= 8) out[7] = 0x31; // "HTTP/1.x" → "HTTP/1.1"
  out[at++] = 13;
  out[at++] = 10;
  for (let i = 1; i < lines.length; i++) {
    const [from, to] = lines[i]!;
    if (drop.size > 0 && drop.has(fieldName(src, from, to))) continue;
    out.set(src.subarray(from, to), at);
    at += to - from;
    out[at++] = 13;
    out[at++] = 10;
  }
  out.set(addBytes, at);
  at += addBytes.length;
  out[at++] = 13;
  out[at++] = 10;
  return out.subarray(0, at);
}

/** Lower-cased name of the field line `src[from, to)`. */
function fieldName(src: Uint8Array, from: number, to: number): string {
  let colon = from;
  while (colon < to && src[colon] !== 58) colon++;
  return latin1(src, from, colon).toLowerCase();
}

function latin1(src: Uint8Array, from: number, to: number): string {
  let out = "";
  for (let i = from; i < to; i++) out += String.fromCharCode(src[i]!);
  return out;
}
