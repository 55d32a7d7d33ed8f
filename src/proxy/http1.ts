/**
 * The HTTP/1.1 wire format that the upstream client needs: an incremental response-head parser,
 * the body framing rules, a chunked-encoding decoder and request-head serialisation. Pure: no
 * I/O; bytes in, values out.
 * @module
 */

/** A response from an upstream that breaks HTTP/1.1 framing rules. */
export class HttpParseError extends Error {
  override name = "HttpParseError";
}

/** Largest response head accepted, in bytes, status line and terminating blank line included. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** A parsed response status line and header section. */
export interface ResponseHead {
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly minorVersion: 0 | 1;
  readonly status: number;
  readonly statusText: string;
  /** Header fields in arrival order; names lower-cased, values with surrounding whitespace trimmed. */
  readonly headers: [string, string][];
  /** Bytes taken by the head; the body (if any) starts at this offset. */
  readonly headLength: number;
}

const LF = 10;
const CR = 13;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values and reason phrases may hold HTAB, SP, VCHAR and obs-text, nothing else.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const INVALID_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: (.*))?$/;
const HTTP_PREFIX = [72, 84, 84, 80, 47]; // "HTTP/"
const utf8Decoder = new TextDecoder();

/**
 * Parses a response head from the start of `buf`, or reports that more bytes are needed.
 * Accepts bare LF line ends (RFC 9112 §2.2); rejects obs-fold and oversized heads.
 *
 * @throws {HttpParseError} when the bytes cannot be a valid HTTP/1.x response head.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const head = parseResponseHead(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n"));
 * equal(head === "incomplete" ? 0 : head.status, 204);
 * ```
 */
export function parseResponseHead(buf: Uint8Array): ResponseHead | "incomplete" {
  const prefixLength = Math.min(buf.length, HTTP_PREFIX.length);
  for (let i = 0; i < prefixLength; i++) {
    if (buf[i] !== HTTP_PREFIX[i]) throw new HttpParseError("Cannot parse response: not HTTP/1.x");
  }
  const headLength = findHeadEnd(buf);
  if (headLength === -1) {
    if (buf.length >= MAX_HEAD_BYTES) throw oversized();
    return "incomplete";
  }
  if (headLength > MAX_HEAD_BYTES) throw oversized();
  const lines = decodeLatin1(buf.subarray(0, headLength)).split("\n");
  const match = STATUS_LINE.exec(stripCr(lines[0] ?? ""));
  if (match === null || INVALID_VALUE.test(match[3] ?? "")) {
    throw new HttpParseError(`Cannot parse response: invalid status line "${lines[0]}"`);
  }
  const headers: [string, string][] = [];
  // The last two entries are the blank line and the empty string after its LF.
  for (let i = 1; i < lines.length - 2; i++) headers.push(parseField(stripCr(lines[i]!)));
  return {
    minorVersion: match[1] === "1" ? 1 : 0,
    status: Number(match[2]),
    statusText: match[3] ?? "",
    headers,
    headLength,
  };
}

/** Index just past the blank line that ends the head, or -1 when it is not in `buf` yet. */
function findHeadEnd(buf: Uint8Array): number {
  let lineStart = 0;
  let lf = buf.indexOf(LF);
  while (lf !== -1) {
    const lineEnd = lf > lineStart && buf[lf - 1] === CR ? lf - 1 : lf;
    if (lineEnd === lineStart && lineStart > 0) return lf + 1;
    lineStart = lf + 1;
    lf = buf.indexOf(LF, lineStart);
  }
  return -1;
}

function parseField(line: string): [string, string] {
  if (line.startsWith(" ") || line.startsWith("\t")) {
    throw new HttpParseError("Cannot parse response: obsolete header line folding");
  }
  const colon = line.indexOf(":");
  const name = colon === -1 ? "" : line.slice(0, colon);
  if (!TOKEN.test(name)) {
    throw new HttpParseError(`Cannot parse response: invalid header line "${line}"`);
  }
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
  if (INVALID_VALUE.test(value)) {
    throw new HttpParseError(`Cannot parse response: control character in header "${name}"`);
  }
  return [name.toLowerCase(), value];
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

function oversized(): HttpParseError {
  return new HttpParseError(`Cannot parse response: head is larger than ${MAX_HEAD_BYTES} bytes`);
}

/** Decodes bytes one-to-one into code points 0-255, the way `Headers` stores field values. */
function decodeLatin1(bytes: Uint8Array): string {
  // Fast path: the native UTF-8 decoder agrees with Latin-1 exactly when every byte is ASCII,
  // which is the case when no replacement character appears and no multi-byte sequence shrank it.
  const text = utf8Decoder.decode(bytes);
  if (text.length === bytes.length && !text.includes("\uFFFD")) return text;
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

/** How the body of a response is delimited on the wire. */
export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

/**
 * Applies RFC 9112 §6.3 to a response: HEAD, 1xx, 204 and 304 have no body; then
 * `Transfer-Encoding: chunked`; then `Content-Length`; otherwise the body runs until close.
 * Ambiguous framing (both headers, duplicate or invalid lengths, other transfer codings) is
 * rejected, as nginx does, because a proxy that guesses opens the door to response smuggling.
 *
 * @throws {HttpParseError} on ambiguous or invalid framing headers.
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(responseBodyFraming("GET", 200, [["content-length", "5"]]), { kind: "length", length: 5 });
 * deepEqual(responseBodyFraming("HEAD", 200, [["content-length", "5"]]), { kind: "none" });
 * ```
 */
export function responseBodyFraming(
  requestMethod: string,
  status: number,
  headers: readonly (readonly [string, string])[],
): BodyFraming {
  if (requestMethod === "HEAD" || status < 200 || status === 204 || status === 304) {
    return { kind: "none" };
  }
  let transferEncoding: string | null = null;
  let contentLength: string | null = null;
  for (const [name, value] of headers) {
    if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (name === "content-length") {
      if (contentLength !== null) {
        throw new HttpParseError("Cannot frame response: duplicate Content-Length headers");
      }
      contentLength = value;
    }
  }
  if (transferEncoding !== null) {
    if (contentLength !== null) {
      throw new HttpParseError("Cannot frame response: both Transfer-Encoding and Content-Length");
    }
    if (transferEncoding.trim().toLowerCase() !== "chunked") {
      throw new HttpParseError(
        `Cannot frame response: unsupported Transfer-Encoding "${transferEncoding}", expected "chunked"`,
      );
    }
    return { kind: "chunked" };
  }
  if (contentLength !== null) return { kind: "length", length: parseContentLength(contentLength) };
  return { kind: "close" };
}

/**
 * Parses a `Content-Length` value: decimal digits only, at most 15 of them (safe integers).
 *
 * @throws {HttpParseError} when the value is not a plain non-negative integer.
 */
export function parseContentLength(value: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) {
    throw new HttpParseError(`Cannot frame message: invalid Content-Length "${value}"`);
  }
  return Number(value);
}

/**
 * Whether the connection may carry another request after this response: HTTP/1.1 unless
 * `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
 */
export function isKeepAlive(head: Pick<ResponseHead, "minorVersion" | "headers">): boolean {
  let isClose = false;
  let isExplicitKeepAlive = false;
  for (const [name, value] of head.headers) {
    if (name !== "connection") continue;
    for (const token of value.split(",")) {
      const option = token.trim().toLowerCase();
      if (option === "close") isClose = true;
      else if (option === "keep-alive") isExplicitKeepAlive = true;
    }
  }
  if (isClose) return false;
  return head.minorVersion === 1 || isExplicitKeepAlive;
}

/** What one call to {@linkcode ChunkedDecoder.feed} produced. */
export interface ChunkedFeedResult {
  /** Body bytes, as views into the input (copy them before the input buffer is reused). */
  readonly data: Uint8Array[];
  /** True once the last chunk and the trailer section have been read. */
  readonly isDone: boolean;
  /** Bytes after the end of the chunked body; empty unless `isDone`. */
  readonly leftover: Uint8Array;
}

const enum ChunkState {
  Size,
  SizeExtension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerLine,
  TrailerEndLf,
  Done,
}

const MAX_SIZE_DIGITS = 13; // 16^13 bytes is far beyond any real body and within safe integers.
const MAX_TRAILER_BYTES = MAX_HEAD_BYTES;
const MAX_EXTENSION_BYTES = 4096;
const EMPTY = new Uint8Array(0);

/**
 * Incremental decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1). Feed it bytes as they
 * arrive; it returns the body bytes, whether the body ended, and any bytes past the end.
 * Chunk extensions and trailer fields are read and discarded.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const decoder = new ChunkedDecoder();
 * const out = decoder.feed(new TextEncoder().encode("5\r\nhello\r\n0\r\n\r\n"));
 * equal(new TextDecoder().decode(out.data[0]), "hello");
 * equal(out.isDone, true);
 * ```
 */
export class ChunkedDecoder {
  #state = ChunkState.Size;
  #remaining = 0;
  #digits = 0;
  #lineBytes = 0;
  #trailerBytes = 0;

  /** True once the whole chunked body has been seen. */
  get isDone(): boolean {
    return this.#state === ChunkState.Done;
  }

  /**
   * Consumes `input` and returns the body bytes it contained.
   *
   * @throws {HttpParseError} on a malformed chunk size, missing CRLF or oversized trailers.
   */
  feed(input: Uint8Array): ChunkedFeedResult {
    const data: Uint8Array[] = [];
    let i = 0;
    while (i < input.length && this.#state !== ChunkState.Done) {
      if (this.#state === ChunkState.Data) {
        const take = Math.min(this.#remaining, input.length - i);
        data.push(input.subarray(i, i + take));
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = ChunkState.DataCr;
        continue;
      }
      this.#step(input[i]!);
      i++;
    }
    const isDone = this.#state === ChunkState.Done;
    return { data, isDone, leftover: isDone && i < input.length ? input.subarray(i) : EMPTY };
  }

  #step(byte: number): void {
    switch (this.#state) {
      case ChunkState.Size:
        return this.#stepSize(byte);
      case ChunkState.SizeExtension:
        if (byte === LF) return this.#endSizeLine();
        if (++this.#lineBytes > MAX_EXTENSION_BYTES) throw chunkError("chunk extension too long");
        return;
      case ChunkState.SizeLf:
        if (byte !== LF) throw chunkError("expected LF after chunk size");
        return this.#endSizeLine();
      case ChunkState.DataCr:
        if (byte === CR) this.#state = ChunkState.DataLf;
        else if (byte === LF) this.#state = ChunkState.Size;
        else throw chunkError("expected CRLF after chunk data");
        return;
      case ChunkState.DataLf:
        if (byte !== LF) throw chunkError("expected LF after chunk data");
        this.#state = ChunkState.Size;
        return;
      case ChunkState.TrailerLineStart:
        this.#countTrailer();
        if (byte === CR) this.#state = ChunkState.TrailerEndLf;
        else if (byte === LF) this.#state = ChunkState.Done;
        else this.#state = ChunkState.TrailerLine;
        return;
      case ChunkState.TrailerLine:
        this.#countTrailer();
        if (byte === LF) this.#state = ChunkState.TrailerLineStart;
        return;
      case ChunkState.TrailerEndLf:
        if (byte !== LF) throw chunkError("expected LF after trailer section");
        this.#state = ChunkState.Done;
        return;
      default:
        return;
    }
  }

  #stepSize(byte: number): void {
    const digit = hexValue(byte);
    if (digit !== -1) {
      if (++this.#digits > MAX_SIZE_DIGITS) throw chunkError("chunk size too large");
      this.#remaining = this.#remaining * 16 + digit;
      return;
    }
    if (this.#digits === 0) throw chunkError("expected hexadecimal chunk size");
    if (byte === CR) this.#state = ChunkState.SizeLf;
    else if (byte === LF) this.#endSizeLine();
    else if (byte === 0x3b || byte === 0x20 || byte === 0x09) {
      this.#state = ChunkState.SizeExtension;
      this.#lineBytes = 0;
    } else throw chunkError("invalid character after chunk size");
  }

  #endSizeLine(): void {
    this.#digits = 0;
    this.#state = this.#remaining === 0 ? ChunkState.TrailerLineStart : ChunkState.Data;
  }

  #countTrailer(): void {
    if (++this.#trailerBytes > MAX_TRAILER_BYTES) throw chunkError("trailer section too large");
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

function chunkError(problem: string): HttpParseError {
  return new HttpParseError(`Cannot decode chunked body: ${problem}`);
}
