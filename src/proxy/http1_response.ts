/**
 * The response-head scan of the raw front: status, framing (RFC 9112 §6.3) and connection
 * handling of an upstream response, read straight from the bytes without building strings or
 * field lists (the front passes the head through untouched, so it only needs these facts, per
 * request, fast). Ambiguous framing is rejected, as nginx does, because a proxy that guesses
 * opens the door to response smuggling. Pure: no I/O.
 * @module
 */
import { COLON, CR, HT, LF, SP, TCHAR } from "./http_bytes.ts";
import { HOP_BY_HOP_HEADERS } from "./hop_by_hop.ts";

/** A response from an upstream that breaks HTTP/1.1 syntax or framing rules. */
export class ResponseParseError extends Error {
  override name = "ResponseParseError";
}

/** Largest response head accepted, in bytes, status line and terminating blank line included. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

/** What the front needs to know about a response head; one object is reused per connection. */
export interface ResponseHeadScan {
  /** Status code. */
  status: number;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minorVersion: 0 | 1;
  /** Bytes taken by the head; the body starts here. */
  headLength: number;
  /** How the body is delimited (RFC 9112 §6.3). */
  framing: "none" | "length" | "chunked" | "close";
  /** Body length when `framing` is `length`. */
  contentLength: number;
  /** The upstream allows another request on the connection (before looking at the framing). */
  isKeepAlive: boolean;
  /** A hop-by-hop field other than `Transfer-Encoding` is present (the head must be filtered). */
  hasHopByHop: boolean;
}

/** A fresh scan result to pass to {@linkcode scanResponseHead}. */
export function newResponseHeadScan(): ResponseHeadScan {
  return {
    status: 0,
    minorVersion: 1,
    headLength: 0,
    framing: "none",
    contentLength: 0,
    isKeepAlive: true,
    hasHopByHop: false,
  };
}

const enum Name {
  Other,
  ContentLength,
  TransferEncoding,
  Connection,
  HopByHop,
}

/**
 * Scans a response head at the start of `buf` into `out`; false when it is not complete yet.
 * Accepts bare LF line ends (RFC 9112 §2.2); rejects obs-fold, invalid field lines, control
 * characters, ambiguous framing and heads over 64 KiB.
 *
 * @throws {ResponseParseError} when the bytes cannot be a valid, unambiguous HTTP/1.x response head.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const scan = newResponseHeadScan();
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
 * equal(scanResponseHead(bytes, "GET", scan), true);
 * equal(scan.framing, "length");
 * equal(scan.contentLength, 5);
 * equal(scan.headLength, 38);
 * ```
 */
export function scanResponseHead(
  buf: Uint8Array,
  requestMethod: string,
  out: ResponseHeadScan,
): boolean {
  const length = buf.length;
  // "HTTP/1.x SSS" then SP reason, or the line end.
  const prefix = Math.min(length, 12);
  for (let i = 0; i < prefix; i++) {
    const c = buf[i]!;
    const ok = i < 7
      ? c === STATUS_PREFIX[i]
      : i === 7
      ? c === 0x30 || c === 0x31
      : i === 8
      ? c === SP
      : c >= 0x30 && c <= 0x39;
    if (!ok) throw new ResponseParseError("Cannot parse response: invalid status line");
  }
  // One pass over the lines; a head that is not complete yet costs a rescan later (rare).
  const firstLf = buf.indexOf(LF, 12);
  if (firstLf === -1) {
    if (length >= MAX_RESPONSE_HEAD_BYTES) throw oversized();
    return false;
  }
  const minorVersion = buf[7] === 0x31 ? 1 : 0;
  const status = (buf[9]! - 0x30) * 100 + (buf[10]! - 0x30) * 10 + (buf[11]! - 0x30);
  const lineEnd0 = lineEndAt(buf, firstLf);
  if (12 < lineEnd0) {
    if (buf[12] !== SP) throw new ResponseParseError("Cannot parse response: invalid status line");
    for (let i = 13; i < lineEnd0; i++) {
      if (isInvalidValueByte(buf[i]!)) {
        throw new ResponseParseError("Cannot parse response: invalid status line");
      }
    }
  }
  let lineStart = firstLf + 1;
  let headEnd = -1;
  let contentLengths = 0;
  let lengthStart = 0;
  let lengthEnd = 0;
  let transferEncodings = 0;
  let isChunked = false;
  let isClose = false;
  let isExplicitKeepAlive = false;
  let hasHopByHop = false;
  for (;;) {
    const lf = buf.indexOf(LF, lineStart);
    if (lf === -1) {
      if (length >= MAX_RESPONSE_HEAD_BYTES) throw oversized();
      return false;
    }
    const lineEnd = lineEndAt(buf, lf);
    if (lineEnd === lineStart) {
      headEnd = lf + 1; // The blank line.
      break;
    }
    const first = buf[lineStart]!;
    if (first === SP || first === HT) {
      throw new ResponseParseError("Cannot parse response: obsolete header line folding");
    }
    let colon = lineStart;
    while (colon < lineEnd && TCHAR[buf[colon]!] === 1) colon++;
    if (colon === lineStart || colon === lineEnd || buf[colon] !== COLON) {
      throw new ResponseParseError("Cannot parse response: invalid header line");
    }
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && (buf[valueStart] === SP || buf[valueStart] === HT)) {
      valueStart++;
    }
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HT)) {
      valueEnd--;
    }
    for (let k = valueStart; k < valueEnd; k++) {
      if (isInvalidValueByte(buf[k]!)) {
        throw new ResponseParseError("Cannot parse response: control character in a header");
      }
    }
    switch (nameOf(buf, lineStart, colon)) {
      case Name.ContentLength:
        // Judged below, and only when the status lets the response have a body.
        contentLengths++;
        lengthStart = valueStart;
        lengthEnd = valueEnd;
        break;
      case Name.TransferEncoding:
        transferEncodings++;
        isChunked = equalsIgnoreCase(buf, valueStart, valueEnd, CHUNKED);
        break;
      case Name.Connection: {
        hasHopByHop = true;
        const options = connectionOptions(buf, valueStart, valueEnd);
        if ((options & 1) !== 0) isClose = true;
        if ((options & 2) !== 0) isExplicitKeepAlive = true;
        break;
      }
      case Name.HopByHop:
        hasHopByHop = true;
        break;
      default:
        break;
    }
    lineStart = lf + 1;
  }
  if (headEnd > MAX_RESPONSE_HEAD_BYTES) throw oversized();
  out.status = status;
  out.minorVersion = minorVersion;
  out.headLength = headEnd;
  out.contentLength = 0;
  out.isKeepAlive = !isClose && (minorVersion === 1 || isExplicitKeepAlive);
  out.hasHopByHop = hasHopByHop;
  if (requestMethod === "HEAD" || status < 200 || status === 204 || status === 304) {
    out.framing = "none";
  } else if (transferEncodings > 0) {
    if (contentLengths > 0) {
      throw new ResponseParseError(
        "Cannot frame response: both Transfer-Encoding and Content-Length",
      );
    }
    if (transferEncodings > 1 || !isChunked) {
      throw new ResponseParseError(
        'Cannot frame response: unsupported Transfer-Encoding, expected "chunked"',
      );
    }
    out.framing = "chunked";
  } else if (contentLengths > 0) {
    if (contentLengths > 1) {
      throw new ResponseParseError("Cannot frame response: duplicate Content-Length headers");
    }
    out.framing = "length";
    out.contentLength = parseLength(buf, lengthStart, lengthEnd);
  } else {
    out.framing = "close";
  }
  return true;
}

const STATUS_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."
const CHUNKED = [0x63, 0x68, 0x75, 0x6e, 0x6b, 0x65, 0x64]; // "chunked"
const CONTENT_LENGTH = bytesOf("content-length");
const TRANSFER_ENCODING = bytesOf("transfer-encoding");
const CONNECTION = bytesOf("connection");
/** Hop-by-hop names other than Connection and Transfer-Encoding, by length. */
const HOP_BY_HOP_BY_LENGTH = new Map<number, number[][]>();
for (const name of HOP_BY_HOP_HEADERS) {
  if (name === "connection" || name === "transfer-encoding") continue;
  const list = HOP_BY_HOP_BY_LENGTH.get(name.length) ?? [];
  list.push(bytesOf(name));
  HOP_BY_HOP_BY_LENGTH.set(name.length, list);
}

function bytesOf(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

/** End of the line whose LF is at `lf` (before a CR, if any). */
function lineEndAt(buf: Uint8Array, lf: number): number {
  return lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
}

/** Field values may hold HTAB, SP, VCHAR and obs-text, nothing else. */
function isInvalidValueByte(c: number): boolean {
  return (c < 0x20 && c !== HT) || c === 0x7f;
}

function nameOf(buf: Uint8Array, from: number, to: number): Name {
  const length = to - from;
  if (length === 14 && equalsIgnoreCase(buf, from, to, CONTENT_LENGTH)) return Name.ContentLength;
  if (length === 17 && equalsIgnoreCase(buf, from, to, TRANSFER_ENCODING)) {
    return Name.TransferEncoding;
  }
  if (length === 10 && equalsIgnoreCase(buf, from, to, CONNECTION)) return Name.Connection;
  const candidates = HOP_BY_HOP_BY_LENGTH.get(length);
  if (candidates !== undefined) {
    for (const name of candidates) if (equalsIgnoreCase(buf, from, to, name)) return Name.HopByHop;
  }
  return Name.Other;
}

/** ASCII case-insensitive comparison of `buf[from, to)` with lower-case `expected`. */
function equalsIgnoreCase(buf: Uint8Array, from: number, to: number, expected: number[]): boolean {
  if (to - from !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) {
    const c = buf[from + i]!;
    const lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    if (lower !== expected[i]) return false;
  }
  return true;
}

/** Decimal digits only, at most 15 of them. */
function parseLength(buf: Uint8Array, from: number, to: number): number {
  if (to === from || to - from > 15) {
    throw new ResponseParseError("Cannot frame message: invalid Content-Length");
  }
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) {
      throw new ResponseParseError("Cannot frame message: invalid Content-Length");
    }
    value = value * 10 + (c - 0x30);
  }
  return value;
}

const CLOSE = bytesOf("close");
const KEEP_ALIVE = bytesOf("keep-alive");

/** Bit 1: `close` is listed; bit 2: `keep-alive` is listed. */
function connectionOptions(buf: Uint8Array, from: number, to: number): number {
  let found = 0;
  let start = from;
  while (start <= to) {
    let end = start;
    while (end < to && buf[end] !== 0x2c) end++;
    let valueStart = start;
    let valueEnd = end;
    while (valueStart < valueEnd && (buf[valueStart] === SP || buf[valueStart] === HT)) {
      valueStart++;
    }
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HT)) {
      valueEnd--;
    }
    if (equalsIgnoreCase(buf, valueStart, valueEnd, CLOSE)) found |= 1;
    else if (equalsIgnoreCase(buf, valueStart, valueEnd, KEEP_ALIVE)) found |= 2;
    start = end + 1;
  }
  return found;
}

function oversized(): ResponseParseError {
  return new ResponseParseError(
    `Cannot parse response: head is larger than ${MAX_RESPONSE_HEAD_BYTES} bytes`,
  );
}
