/**
 * Strict, incremental HTTP/1.x request-head parsing for the raw front: the request line and the
 * header section (`chunked.ts` decodes chunked request bodies as strictly). Everything a request
 * smuggler could play with (two framings, duplicate or odd lengths, obs-fold, bare CR/LF, control
 * bytes, oversized heads) is a {@linkcode RequestParseError}, which the front answers with 400
 * before any byte reaches an instance. Pure: bytes in, values out; no I/O.
 *
 * Longer than 400 lines on purpose: the request line, field syntax, framing and Host rules are
 * checked in one pass over the bytes and only make sense together (a smuggling check split from
 * the framing it guards is easier to get wrong), and the parser is hand-written for speed.
 * @module
 */
import { COLON, CR, HT, LF, SP, TCHAR } from "./http_bytes.ts";

/** A request that is not acceptable HTTP/1.x; the front answers 400 and closes the connection. */
export class RequestParseError extends Error {
  override name = "RequestParseError";
  /** HTTP status to answer with. */
  readonly status = 400;
}

/** Largest request head accepted, in bytes, leading empty lines and terminating CRLF included. */
export const MAX_REQUEST_HEAD_BYTES = 64 * 1024;
/** Most header fields accepted in one request head. */
export const MAX_REQUEST_HEADERS = 100;

/** How a request body is delimited on the wire. */
export type RequestBodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

/** One header field line of a request head. */
export interface RequestField {
  /** Field name, lower case. */
  readonly name: string;
  /** Field value without surrounding whitespace; bytes 0x80-0xFF become code points 0x80-0xFF. */
  readonly value: string;
  /** Offset of the line in the parsed bytes. */
  readonly start: number;
  /** Offset just past the line's CRLF. */
  readonly end: number;
}

/** A parsed, validated request head. */
export interface RequestHead {
  readonly method: string;
  /** Origin-form target (absolute-form is turned into origin-form), or `*` for `OPTIONS`. */
  readonly target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly minorVersion: 0 | 1;
  readonly headers: readonly RequestField[];
  /**
   * The host the request is for: the authority of an absolute-form target, else the Host field
   * (possibly ""), or null for an HTTP/1.0 request without one.
   */
  readonly host: string | null;
  /** The target came in absolute form (`http://host/path`); the Host field must be regenerated. */
  readonly isAbsoluteForm: boolean;
  readonly framing: RequestBodyFraming;
  /** Whether the client allows another request on this connection after the response. */
  readonly isKeepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  readonly expectsContinue: boolean;
  /** The `Upgrade` value when `Connection` lists `upgrade` (HTTP/1.1 only), else null. */
  readonly upgrade: string | null;
  /** Lower-cased options listed in `Connection` (hop-by-hop for this message). */
  readonly connectionOptions: readonly string[];
  /** Offset of the request line (after any leading empty lines). */
  readonly requestLineStart: number;
  /** Offset just past the request line's CRLF. */
  readonly requestLineEnd: number;
  /** Bytes taken by the head, leading empty lines included; the body starts here. */
  readonly headLength: number;
}

/** Options for {@linkcode parseRequestHead}. */
export interface ParseRequestOptions {
  /**
   * Bytes of `buf` already examined by an earlier call that returned null: the search for the end
   * of the head resumes there, so a head that arrives in many pieces is scanned once.
   * @default {0}
   */
  readonly searchFrom?: number;
  /** @default {MAX_REQUEST_HEAD_BYTES} */
  readonly maxHeadBytes?: number;
  /** @default {MAX_REQUEST_HEADERS} */
  readonly maxHeaders?: number;
}

/** Bytes allowed in a Host value outside an IP literal: reg-name, IPv4 and a `:port`. */
const HOST_CHAR = new Uint8Array(256);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:") {
  HOST_CHAR[c.charCodeAt(0)] = 1;
}

const utf8Decoder = new TextDecoder();
const NO_BODY: RequestBodyFraming = { kind: "none" };
const CHUNKED: RequestBodyFraming = { kind: "chunked" };
const NO_OPTIONS: readonly string[] = [];

function fail(problem: string): RequestParseError {
  return new RequestParseError(`Cannot parse request: ${problem}`);
}

/**
 * Parses a request head from the start of `buf`, or returns null when the head is not complete
 * yet. Leading empty lines (CRLF) are skipped, as RFC 9112 §2.2 allows. Lines must end in CRLF.
 *
 * @throws {RequestParseError} as soon as the bytes cannot be an acceptable request head.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const head = parseRequestHead(new TextEncoder().encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
 * equal(head?.target, "/a");
 * equal(head?.host, "x");
 * ```
 */
export function parseRequestHead(
  buf: Uint8Array,
  options: ParseRequestOptions = {},
): RequestHead | null {
  const maxHeadBytes = options.maxHeadBytes ?? MAX_REQUEST_HEAD_BYTES;
  let begin = 0;
  while (begin < buf.length && buf[begin] === CR) {
    if (begin + 1 >= buf.length) return null;
    if (buf[begin + 1] !== LF) throw fail("bare CR");
    begin += 2;
  }
  if (begin > maxHeadBytes) throw fail(`head is larger than ${maxHeadBytes} bytes`);
  const headLength = findHeadEnd(buf, begin, options.searchFrom ?? 0);
  if (headLength === -1) {
    checkMethodPrefix(buf, begin);
    if (buf.length >= maxHeadBytes) throw fail(`head is larger than ${maxHeadBytes} bytes`);
    return null;
  }
  if (headLength > maxHeadBytes) throw fail(`head is larger than ${maxHeadBytes} bytes`);
  return parseCompleteHead(decodeLatin1(buf, headLength), begin, headLength, options);
}

/** Index just past the CRLFCRLF ending the head, or -1; throws on a bare LF on the way. */
function findHeadEnd(buf: Uint8Array, begin: number, searchFrom: number): number {
  let lf = buf.indexOf(LF, Math.max(begin, searchFrom));
  while (lf !== -1) {
    if (lf === begin || buf[lf - 1] !== CR) throw fail("bare LF");
    if (lf - 3 >= begin && buf[lf - 2] === LF && buf[lf - 3] === CR) return lf + 1;
    lf = buf.indexOf(LF, lf + 1);
  }
  return -1;
}

/** Rejects early what cannot start a request line (TLS, binary garbage) instead of waiting. */
function checkMethodPrefix(buf: Uint8Array, begin: number): void {
  const end = Math.min(buf.length, begin + 32);
  for (let i = begin; i < end; i++) {
    const c = buf[i]!;
    if (c === SP && i > begin) return;
    if (TCHAR[c] !== 1) throw fail("invalid method");
  }
}

/** Decodes the head one byte per code unit (Latin-1), the way header values are carried. */
function decodeLatin1(buf: Uint8Array, length: number): string {
  const bytes = buf.subarray(0, length);
  // The native UTF-8 decoder agrees with Latin-1 exactly when every byte is ASCII.
  const text = utf8Decoder.decode(bytes);
  if (text.length === length && !text.includes("\uFFFD")) return text;
  let out = "";
  for (let i = 0; i < length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, Math.min(length, i + 4096)));
  }
  return out;
}

/** Parses a head known to be complete, CRLF-terminated, with no bare LF. */
function parseCompleteHead(
  text: string,
  begin: number,
  headLength: number,
  options: ParseRequestOptions,
): RequestHead {
  const maxHeaders = options.maxHeaders ?? MAX_REQUEST_HEADERS;
  const lineLf = text.indexOf("\n", begin);
  const line = parseRequestLine(text, begin, lineLf - 1);
  const headers: RequestField[] = [];
  let hostCount = 0;
  let hostValue: string | null = null;
  let contentLength: string | null = null;
  let transferEncoding: string | null = null;
  let connection: string | null = null;
  let upgradeValue: string | null = null;
  let expect: string | null = null;
  let lineStart = lineLf + 1;
  for (;;) {
    const lf = text.indexOf("\n", lineStart);
    if (text.charCodeAt(lf - 1) !== CR) throw fail("bare LF");
    if (lf === lineStart + 1) break; // The empty line.
    const field = parseField(text, lineStart, lf - 1);
    headers.push(field);
    if (headers.length > maxHeaders) throw fail(`more than ${maxHeaders} header fields`);
    switch (field.name) {
      case "host":
        hostCount++;
        hostValue = field.value;
        break;
      case "content-length":
        if (contentLength !== null) throw fail("more than one Content-Length");
        contentLength = field.value;
        break;
      case "transfer-encoding":
        if (transferEncoding !== null) throw fail("more than one Transfer-Encoding");
        transferEncoding = field.value;
        break;
      case "connection":
        connection = connection === null ? field.value : `${connection}, ${field.value}`;
        break;
      case "upgrade":
        upgradeValue = upgradeValue === null ? field.value : `${upgradeValue}, ${field.value}`;
        break;
      case "expect":
        expect = field.value;
        break;
    }
    lineStart = lf + 1;
  }
  const minorVersion = line.minorVersion;
  if (hostCount > 1) throw fail("more than one Host");
  if (minorVersion === 1 && hostCount === 0) throw fail("HTTP/1.1 request without Host");
  if (hostValue !== null && !isValidHost(hostValue)) throw fail("invalid Host");
  const framing = bodyFraming(contentLength, transferEncoding, minorVersion);
  const connectionOptions = connection === null ? NO_OPTIONS : listOptions(connection);
  const isClose = connectionOptions.includes("close");
  const isKeepAlive = minorVersion === 1
    ? !isClose
    : !isClose && connectionOptions.includes("keep-alive");
  const upgrade = minorVersion === 1 && upgradeValue !== null && upgradeValue !== "" &&
      connectionOptions.includes("upgrade")
    ? upgradeValue
    : null;
  return {
    method: line.method,
    target: line.target,
    minorVersion,
    headers,
    host: line.authority ?? hostValue,
    isAbsoluteForm: line.authority !== null,
    framing,
    isKeepAlive,
    expectsContinue: minorVersion === 1 && expect !== null &&
      expect.toLowerCase() === "100-continue",
    upgrade,
    connectionOptions,
    requestLineStart: begin,
    requestLineEnd: lineLf + 1,
    headLength,
  };
}

interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly minorVersion: 0 | 1;
  /** Authority of an absolute-form target, else null. */
  readonly authority: string | null;
}

/** `method SP request-target SP HTTP-version`, single spaces, in `text[start, end)`. */
function parseRequestLine(text: string, start: number, end: number): RequestLine {
  let i = start;
  while (i < end && TCHAR[text.charCodeAt(i)] === 1) i++;
  if (i === start || i === end || text.charCodeAt(i) !== SP) throw fail("invalid method");
  const method = internMethod(text, start, i);
  const targetStart = i + 1;
  let j = targetStart;
  for (; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === SP) break;
    if (c < 0x21 || c > 0x7e || c === 0x23) throw fail("invalid request target");
  }
  if (j === targetStart || j === end) throw fail("invalid request line");
  let minorVersion: 0 | 1;
  if (end - j !== 9 || !text.startsWith("HTTP/1.", j + 1)) throw fail("unsupported HTTP version");
  const minor = text.charCodeAt(end - 1);
  if (minor === 0x31) minorVersion = 1;
  else if (minor === 0x30) minorVersion = 0;
  else throw fail("unsupported HTTP version");
  const rawTarget = text.slice(targetStart, j);
  const first = rawTarget.charCodeAt(0);
  if (first === 0x2f) return { method, target: rawTarget, minorVersion, authority: null };
  if (rawTarget === "*") {
    if (method !== "OPTIONS") throw fail("asterisk-form target with a method other than OPTIONS");
    return { method, target: rawTarget, minorVersion, authority: null };
  }
  if (rawTarget.length > 7 && rawTarget.slice(0, 7).toLowerCase() === "http://") {
    let pathStart = 7;
    while (pathStart < rawTarget.length) {
      const c = rawTarget.charCodeAt(pathStart);
      if (c === 0x2f || c === 0x3f) break;
      pathStart++;
    }
    const authority = rawTarget.slice(7, pathStart);
    if (authority === "" || authority.includes("@") || !isValidHost(authority)) {
      throw fail("invalid authority in absolute-form target");
    }
    const rest = rawTarget.slice(pathStart);
    const target = rest === "" ? "/" : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest;
    return { method, target, minorVersion, authority };
  }
  throw fail("invalid request target");
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/** The method in `text[start, end)`; common ones as shared constants (no allocation). */
function internMethod(text: string, start: number, end: number): string {
  for (const method of METHODS) {
    if (method.length === end - start && text.startsWith(method, start)) return method;
  }
  return text.slice(start, end);
}

/** One field line in `text[start, end)` (end is the CR): `name ":" OWS value OWS`. */
function parseField(text: string, start: number, end: number): RequestField {
  const first = text.charCodeAt(start);
  if (first === SP || first === HT) throw fail("obsolete line folding");
  let i = start;
  let hasUpper = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (TCHAR[c] !== 1) break;
    if (c >= 65 && c <= 90) hasUpper = true;
  }
  const stop = i < end ? text.charCodeAt(i) : -1;
  if (stop !== COLON) {
    if (stop === SP || stop === HT) throw fail("whitespace between field name and colon");
    if (stop === -1) throw fail("header line without a colon");
    if (stop === CR) throw fail("bare CR");
    if (stop < 0x20 || stop === 0x7f) throw fail("control character in field name");
    throw fail("invalid field name");
  }
  if (i === start) throw fail("empty field name");
  const rawName = text.slice(start, i);
  const name = hasUpper ? rawName.toLowerCase() : rawName;
  let valueStart = i + 1;
  let valueEnd = end;
  while (valueStart < valueEnd) {
    const c = text.charCodeAt(valueStart);
    if (c !== SP && c !== HT) break;
    valueStart++;
  }
  while (valueEnd > valueStart) {
    const c = text.charCodeAt(valueEnd - 1);
    if (c !== SP && c !== HT) break;
    valueEnd--;
  }
  for (let k = valueStart; k < valueEnd; k++) {
    const c = text.charCodeAt(k);
    if ((c < 0x20 && c !== HT) || c === 0x7f) {
      throw fail(c === CR ? "bare CR" : "control character in field value");
    }
  }
  return { name, value: text.slice(valueStart, valueEnd), start, end: end + 2 };
}

/**
 * RFC 9112 §6.1-6.3 for requests, strictly: one framing only, `Transfer-Encoding` exactly
 * `chunked` (and only on HTTP/1.1), `Content-Length` plain digits once.
 */
function bodyFraming(
  contentLength: string | null,
  transferEncoding: string | null,
  minorVersion: 0 | 1,
): RequestBodyFraming {
  if (transferEncoding !== null) {
    if (contentLength !== null) throw fail("both Content-Length and Transfer-Encoding");
    if (minorVersion === 0) throw fail("Transfer-Encoding in an HTTP/1.0 request");
    if (transferEncoding.toLowerCase() !== "chunked") {
      throw fail("unsupported Transfer-Encoding (only chunked is accepted)");
    }
    return CHUNKED;
  }
  if (contentLength === null) return NO_BODY;
  if (!isDigits(contentLength, 15)) throw fail("invalid Content-Length");
  return { kind: "length", length: Number(contentLength) };
}

function isDigits(value: string, maxLength: number): boolean {
  if (value.length === 0 || value.length > maxLength) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * A Host value (or an absolute-form authority without userinfo): empty, a reg-name or IPv4 with
 * an optional port, or a bracketed IPv6/IPvFuture literal with an optional port.
 */
function isValidHost(value: string): boolean {
  if (value === "") return true;
  let hostEnd = value.length;
  if (value.charCodeAt(0) === 0x5b) {
    const close = value.indexOf("]");
    if (close < 2) return false;
    for (let i = 1; i < close; i++) {
      const c = value.charCodeAt(i);
      const isHex = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) ||
        (c >= 0x41 && c <= 0x46);
      if (!isHex && c !== COLON && c !== 0x2e && c !== 0x76 && c !== 0x56) return false;
    }
    hostEnd = close + 1;
    if (hostEnd === value.length) return true;
    if (value.charCodeAt(hostEnd) !== COLON) return false;
    const port = value.slice(hostEnd + 1);
    return port === "" || isDigits(port, 5);
  }
  const colon = value.indexOf(":");
  if (colon !== -1) {
    if (value.length - colon - 1 > 5) return false;
    for (let i = colon + 1; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return false;
    }
    hostEnd = colon;
  }
  for (let i = 0; i < hostEnd; i++) {
    if (HOST_CHAR[value.charCodeAt(i)] !== 1 || value.charCodeAt(i) === COLON) return false;
  }
  return true;
}

/** The lower-cased, non-empty, comma-separated options of a `Connection` value. */
function listOptions(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    const option = part.trim().toLowerCase();
    if (option !== "") out.push(option);
  }
  return out;
}

/**
 * The value of the first field named `name` (lower case), or null.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const head = parseRequestHead(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\n\r\n"))!;
 * equal(fieldValue(head, "cookie"), "a=1");
 * ```
 */
export function fieldValue(head: RequestHead, name: string): string | null {
  for (const field of head.headers) if (field.name === name) return field.value;
  return null;
}
