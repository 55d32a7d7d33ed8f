/**
 * `Transfer-Encoding: chunked` (RFC 9112 §7.1): an incremental decoder with two strictnesses,
 * and canonical chunk encoding. Request bodies from clients are decoded strictly, because a
 * framing the front reads differently from an instance is how requests get smuggled; response
 * bodies from instances are decoded leniently, only to find where they end. Pure: no I/O.
 * @module
 */
import { COLON, CR, HT, LF, SP, TCHAR } from "./http_bytes.ts";
import { MAX_REQUEST_HEAD_BYTES, MAX_REQUEST_HEADERS, RequestParseError } from "./http1_request.ts";
import { ResponseParseError } from "./http1_response.ts";

/**
 * How strictly {@linkcode ChunkedDecoder} reads the syntax.
 *
 * - `strict` (client request bodies): CRLF line ends only; chunk extensions must start with `;`
 *   (after optional whitespace) and hold no control bytes; trailer lines must be `name:value`
 *   fields without control bytes, at most 100 of them. Errors are {@linkcode RequestParseError}s,
 *   which the front answers with 400.
 * - `lenient` (instance response bodies): bare LF line ends are accepted (RFC 9112 §2.2) and
 *   whatever follows the chunk size on its line, or fills a trailer line, is skipped unread.
 *   Errors are {@linkcode ResponseParseError}s.
 *
 * Both bound the size digits (13), an extension (4 KiB) and the trailer section (64 KiB).
 */
export type ChunkedStrictness = "strict" | "lenient";

/** What one call to {@linkcode ChunkedDecoder.feed} produced. */
export interface ChunkedFeed {
  /** Body bytes, as views into the input (write or copy them before the input is reused). */
  readonly data: Uint8Array[];
  /**
   * Bytes of the input that belong to the chunked body: all of it until the body ends, then up to
   * its end. The rest is the next message (or, from an instance, bytes it should not have sent).
   */
  readonly consumed: number;
  /** True once the last chunk and the trailer section have been read. */
  readonly isDone: boolean;
}

const enum ChunkState {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  /** Strict only: the LF of a trailer line (lenient mode reads it in `Trailer`). */
  TrailerLf,
  EndLf,
  Done,
}

const SEMICOLON = 0x3b;

const MAX_SIZE_DIGITS = 13; // 16^13 bytes is far past any real body, within safe integers.
const MAX_EXTENSION_BYTES = 4096;
const MAX_TRAILER_BYTES = MAX_REQUEST_HEAD_BYTES;
const MAX_TRAILER_FIELDS = MAX_REQUEST_HEADERS;

/**
 * Incremental decoder for a chunked body. Feed it bytes as they arrive; it returns the body
 * bytes, whether the body ended, and how much of the input was the body. Chunk extensions and
 * trailer fields are read and discarded (the front re-encodes request bodies in canonical chunks,
 * so neither reaches an instance; response bodies pass through as they came).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const out = new ChunkedDecoder("strict").feed(new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\nGET"));
 * equal(new TextDecoder().decode(out.data[0]), "abc");
 * equal(out.isDone, true);
 * equal(out.consumed, 13);
 * ```
 */
export class ChunkedDecoder {
  readonly #isStrict: boolean;
  #state = ChunkState.Size;
  #remaining = 0;
  #digits = 0;
  #lineBytes = 0;
  #trailerBytes = 0;
  #trailerFields = 0;
  #isInTrailerValue = false;
  #hasExtension = false;

  constructor(strictness: ChunkedStrictness) {
    this.#isStrict = strictness === "strict";
  }

  /** True once the whole body has been seen. */
  get isDone(): boolean {
    return this.#state === ChunkState.Done;
  }

  /**
   * Consumes bytes of `input` up to the end of the body.
   *
   * @throws {RequestParseError} in strict mode, {ResponseParseError} in lenient mode, on a deviation
   * from the chunked syntax or its bounds.
   */
  feed(input: Uint8Array): ChunkedFeed {
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
    return { data, consumed: i, isDone: this.#state === ChunkState.Done };
  }

  #step(c: number): void {
    switch (this.#state) {
      case ChunkState.Size:
        return this.#stepSize(c);
      case ChunkState.Extension:
        return this.#isStrict ? this.#stepExtensionStrict(c) : this.#stepExtensionLenient(c);
      case ChunkState.SizeLf:
        if (c !== LF) throw this.#fail("bare CR after chunk size");
        return this.#endSizeLine();
      case ChunkState.DataCr:
        if (c === CR) this.#state = ChunkState.DataLf;
        else if (c === LF && !this.#isStrict) this.#state = ChunkState.Size;
        else throw this.#fail("chunk data not followed by CRLF");
        return;
      case ChunkState.DataLf:
        if (c !== LF) throw this.#fail("chunk data not followed by CRLF");
        this.#state = ChunkState.Size;
        return;
      case ChunkState.TrailerStart:
        return this.#stepTrailerStart(c);
      case ChunkState.Trailer:
        return this.#isStrict ? this.#stepTrailerStrict(c) : this.#stepTrailerLenient(c);
      case ChunkState.TrailerLf:
        if (c !== LF) throw this.#fail("bare CR in trailer section");
        this.#state = ChunkState.TrailerStart;
        return;
      case ChunkState.EndLf:
        if (c !== LF) throw this.#fail("bare CR at the end of the body");
        this.#state = ChunkState.Done;
        return;
      default:
        return;
    }
  }

  #stepSize(c: number): void {
    const digit = hexValue(c);
    if (digit !== -1) {
      if (++this.#digits > MAX_SIZE_DIGITS) throw this.#fail("chunk size too large");
      this.#remaining = this.#remaining * 16 + digit;
      return;
    }
    if (this.#digits === 0) throw this.#fail("expected a hexadecimal chunk size");
    if (c === CR) this.#state = ChunkState.SizeLf;
    else if (c === SEMICOLON || c === SP || c === HT) {
      this.#state = ChunkState.Extension;
      this.#lineBytes = 0;
      this.#hasExtension = c === SEMICOLON;
    } else if (c === LF && !this.#isStrict) this.#endSizeLine();
    else throw this.#fail(c === LF ? "bare LF after chunk size" : "invalid chunk size");
  }

  /** `*( OWS ";" ext )` up to CR: only whitespace before the first `;`, no control bytes. */
  #stepExtensionStrict(c: number): void {
    if (c === CR) {
      this.#state = ChunkState.SizeLf;
      return;
    }
    if (c === SEMICOLON) this.#hasExtension = true;
    else if (!this.#hasExtension && c !== SP && c !== HT) throw this.#fail("invalid chunk size");
    if ((c < 0x20 && c !== HT) || c === 0x7f) throw this.#fail("control character in extension");
    this.#countExtension();
  }

  /** Anything up to LF (a CR before it included) is skipped. */
  #stepExtensionLenient(c: number): void {
    if (c === LF) return this.#endSizeLine();
    this.#countExtension();
  }

  #countExtension(): void {
    if (++this.#lineBytes > MAX_EXTENSION_BYTES) throw this.#fail("chunk extension too long");
  }

  #endSizeLine(): void {
    this.#digits = 0;
    this.#state = this.#remaining === 0 ? ChunkState.TrailerStart : ChunkState.Data;
  }

  #stepTrailerStart(c: number): void {
    this.#countTrailer();
    if (c === CR) {
      this.#state = ChunkState.EndLf;
      return;
    }
    if (!this.#isStrict) {
      this.#state = c === LF ? ChunkState.Done : ChunkState.Trailer;
      return;
    }
    if (++this.#trailerFields > MAX_TRAILER_FIELDS) throw this.#fail("too many trailer fields");
    if (TCHAR[c] !== 1) throw this.#fail("invalid trailer field");
    this.#state = ChunkState.Trailer;
    this.#isInTrailerValue = false;
  }

  /** `field-name ":" field-value` up to CR, no control bytes. */
  #stepTrailerStrict(c: number): void {
    this.#countTrailer();
    if (!this.#isInTrailerValue) {
      if (c === COLON) this.#isInTrailerValue = true;
      else if (TCHAR[c] !== 1) throw this.#fail("invalid trailer field");
      return;
    }
    if (c === CR) {
      this.#state = ChunkState.TrailerLf;
      return;
    }
    if ((c < 0x20 && c !== HT) || c === 0x7f) throw this.#fail("control character in trailer");
  }

  /** Anything up to LF (included) is skipped. */
  #stepTrailerLenient(c: number): void {
    this.#countTrailer();
    if (c === LF) this.#state = ChunkState.TrailerStart;
  }

  #countTrailer(): void {
    if (++this.#trailerBytes > MAX_TRAILER_BYTES) throw this.#fail("trailer section too large");
  }

  #fail(problem: string): Error {
    return this.#isStrict
      ? new RequestParseError(`Cannot decode chunked request body: ${problem}`)
      : new ResponseParseError(`Cannot decode chunked response body: ${problem}`);
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Frames `data` as one chunk (`size CRLF data CRLF`) into `out` at `offset`; returns the new
 * offset. `out` must have room for `data.length + 20` bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const out = new Uint8Array(32);
 * const end = encodeChunk(new TextEncoder().encode("abc"), out, 0);
 * equal(new TextDecoder().decode(out.subarray(0, end)), "3\r\nabc\r\n");
 * ```
 */
export function encodeChunk(data: Uint8Array, out: Uint8Array, offset: number): number {
  let at = offset;
  const size = data.length.toString(16);
  for (let i = 0; i < size.length; i++) out[at++] = size.charCodeAt(i);
  out[at++] = CR;
  out[at++] = LF;
  out.set(data, at);
  at += data.length;
  out[at++] = CR;
  out[at++] = LF;
  return at;
}

/** The last chunk and an empty trailer section. */
export const LAST_CHUNK: Uint8Array = new Uint8Array([0x30, CR, LF, CR, LF]);
