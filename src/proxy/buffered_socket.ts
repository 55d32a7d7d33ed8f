/**
 * A socket with a read buffer and at most one read in flight, for the raw front and its upstream
 * pool. A read can be left pending in the background (`watch()`) so that a peer closing is
 * noticed while nothing else reads; the next `fill()` takes that read over, so watching costs no
 * extra system call. Edge: socket I/O; no HTTP.
 * @module
 */

/** Options for {@linkcode BufferedSocket}. */
export interface BufferedSocketOptions {
  /** Size of the read buffer to start with (and to shrink back to when empty). */
  readonly initialBytes: number;
  /** Size the buffer may grow to while unread bytes fill it. */
  readonly maxBytes: number;
  /** Read through `conn.read()` even where reads by resource id work (socket_io.ts). */
  readonly plainReads?: boolean;
}

import { readRidOf, ridRead } from "./socket_io.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** A `Deno.Conn` with a read buffer: unread bytes are `buf[start, end)`. */
export class BufferedSocket {
  readonly conn: Deno.Conn;
  buf: Uint8Array<ArrayBuffer>;
  start = 0;
  end = 0;
  /** The peer ended its side, a read failed, or the socket was closed. */
  isEnded = false;
  isClosed = false;
  /** Called once when a read finds the end of the stream or fails (not on `close()`). */
  onEnd: (() => void) | null = null;
  /** Called when a background read delivered bytes. */
  onData: (() => void) | null = null;
  readonly #initialBytes: number;
  readonly #maxBytes: number;
  #pending: Promise<void> | null = null;
  /** Resource id for reads that bypass `conn.read()` (see socket_io.ts), or -1. */
  readonly #rid: number;

  constructor(conn: Deno.Conn, options: BufferedSocketOptions) {
    this.conn = conn;
    this.#rid = options.plainReads === true ? -1 : readRidOf(conn);
    this.#initialBytes = options.initialBytes;
    this.#maxBytes = options.maxBytes;
    this.buf = new Uint8Array(options.initialBytes);
  }

  /** Unread bytes. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Whether a read is in flight. */
  get isReading(): boolean {
    return this.#pending !== null;
  }

  /** Unread bytes as a view (valid until the next `fill()`). */
  unread(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(this.start, this.end);
  }

  /**
   * Leaves a read pending in the background, so the end of the stream is noticed (`onEnd`);
   * no-op when one is pending already, at the end, or when the buffer has no free space.
   */
  watch(): void {
    if (this.#pending !== null || this.isEnded || this.isClosed) return;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    if (this.end === this.buf.length) return;
    this.#issue();
  }

  /**
   * Waits for more bytes after `end`, or the end of the stream (then `isEnded` is true). Makes
   * room first (moves unread bytes to the front, or grows the buffer up to `maxBytes`). Not an
   * async function on purpose: it runs for every request on both sides.
   *
   * @throws {RangeError} when the buffer is full at `maxBytes` (callers bound what they buffer).
   */
  fill(): Promise<void> {
    if (this.#pending === null) {
      if (this.isEnded || this.isClosed) return RESOLVED;
      this.#makeRoom();
      this.#issue();
    }
    return this.#pending!;
  }

  /**
   * Reads into `into`, bypassing the buffer; null at the end of the stream. Only when nothing is
   * buffered or pending.
   */
  async readInto(into: Uint8Array): Promise<number | null> {
    if (this.isEnded || this.isClosed) return null;
    if (into.length === 0) return 0;
    try {
      const bytesRead = this.#rid >= 0
        ? await ridRead(this.#rid, into)
        : await this.conn.read(into);
      if (bytesRead === null || bytesRead === 0) {
        this.isEnded = true;
        return null;
      }
      return bytesRead;
    } catch (error) {
      this.isEnded = true;
      throw error;
    }
  }

  /** Writes all of `bytes`. One write at a time per socket. */
  writeAll(bytes: Uint8Array): Promise<void> {
    // A promise chain with handlers bound once, not an async function: this runs for every
    // response and every forwarded request.
    this.#writing = bytes;
    return this.conn.write(bytes).then(this.#onWritten);
  }

  #writing: Uint8Array | null = null;

  readonly #onWritten = (written: number): Promise<void> | undefined => {
    const bytes = this.#writing!;
    if (written >= bytes.length) {
      this.#writing = null;
      return undefined;
    }
    return this.writeAll(bytes.subarray(written));
  };

  /** Closes the socket; a pending read then ends. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isEnded = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  /** Ensures free space after `end` without disturbing unread bytes' content. */
  #makeRoom(): void {
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      if (this.buf.length > this.#initialBytes) this.buf = new Uint8Array(this.#initialBytes);
      return;
    }
    if (this.end < this.buf.length) return;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      return;
    }
    if (this.buf.length >= this.#maxBytes) {
      throw new RangeError(`Cannot read more: ${this.buf.length} unread bytes fill the buffer`);
    }
    const bigger = new Uint8Array(Math.min(this.#maxBytes, this.buf.length * 2));
    bigger.set(this.buf.subarray(0, this.end));
    this.buf = bigger;
  }

  #issue(): void {
    // The buffer is neither moved nor replaced while this read is pending (fill() awaits it
    // before making room), so the bytes land right after `end`.
    const into = this.buf.subarray(this.end);
    const read = this.#rid >= 0 ? ridRead(this.#rid, into) : this.conn.read(into);
    this.#pending = read.then(this.#onRead, this.#onFail);
  }

  // Bound once: a read per request should not allocate handlers.
  readonly #onRead = (bytesRead: number | null): void => {
    this.#pending = null;
    // null from conn.read(), 0 from a read by resource id: the end of the stream.
    if (bytesRead === null || bytesRead === 0) return this.#ended();
    this.end += bytesRead;
    this.onData?.();
  };

  readonly #onFail = (): void => {
    this.#pending = null;
    this.#ended();
  };

  #ended(): void {
    if (this.isEnded && this.isClosed) return;
    this.isEnded = true;
    this.onEnd?.();
  }
}
