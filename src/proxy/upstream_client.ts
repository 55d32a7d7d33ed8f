/**
 * Pooled keep-alive HTTP/1.1 client that carries one proxied request to an instance over TCP or a
 * Unix socket and streams both bodies with manual read/write loops (never `pipeTo`). It exists
 * because Deno's `fetch()` is slow as an upstream client (~0.12x of direct, perf-baseline §2) and
 * decompresses bodies; `bench/upstream_client_bench.ts` compares the two behind `Deno.serve`.
 * Edge: socket I/O; no routing, no logging.
 * @module
 */

import { filterHopByHop } from "./forward_headers.ts";
import {
  type BodyFraming,
  ChunkedDecoder,
  HttpParseError,
  isKeepAlive,
  parseContentLength,
  parseResponseHead,
  type RequestFraming,
  responseBodyFraming,
  type ResponseHead,
  serializeRequestHead,
} from "./http1.ts";

/** Where an instance listens. */
export type UpstreamTarget =
  | { readonly kind: "tcp"; readonly hostname: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

/** Per-exchange options for {@linkcode UpstreamClient.send}. */
export interface UpstreamSendOptions {
  /** Aborts the exchange (client went away); closes the upstream connection. */
  readonly signal?: AbortSignal;
  /** Time allowed until the response head arrives; exceeded → UpstreamTimeoutError. */
  readonly headersTimeoutMs: number;
  /** Called exactly once when the exchange is over: response body fully delivered, or failed/aborted/cancelled. */
  readonly onDone?: () => void;
}

/** The request to forward; `headers` should already come from `forwardHeaders`. */
export interface UpstreamRequest {
  readonly method: string;
  readonly pathAndQuery: string;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** A pooled HTTP/1.1 client for instances. */
export interface UpstreamClient {
  /** Sends one request and resolves with the response head; the body streams afterwards. */
  send(
    target: UpstreamTarget,
    request: UpstreamRequest,
    options: UpstreamSendOptions,
  ): Promise<Response>;
  /** Closes idle pooled connections to this target (called when an instance stops). */
  closeTarget(target: UpstreamTarget): void;
  /** Closes everything. */
  close(): void;
}

/** Connection refused, or closed/reset before any response byte. The proxy answers 502. */
export class UpstreamConnectError extends Error {
  override name = "UpstreamConnectError";
}

/** No response head within `headersTimeoutMs`. The proxy answers 504. */
export class UpstreamTimeoutError extends Error {
  override name = "UpstreamTimeoutError";
}

/** The instance answered with something that is not valid HTTP/1.1 (or cut it short). 502. */
export class UpstreamProtocolError extends Error {
  override name = "UpstreamProtocolError";
}

/** Options for {@linkcode createUpstreamClient}. */
export interface UpstreamClientOptions {
  /** Idle keep-alive connections kept per target; extra ones are closed. @default {64} */
  readonly maxIdlePerTarget?: number;
}

/** Creates a client with a LIFO keep-alive pool per target. */
export function createUpstreamClient(options: UpstreamClientOptions = {}): UpstreamClient {
  return new PooledUpstreamClient(options.maxIdlePerTarget ?? 64);
}

const READ_BUFFER_BYTES = 16 * 1024;
/** Bodies up to this size that arrived with the head are returned as bytes, not a stream. */
const FAST_PATH_MAX_BYTES = 64 * 1024;
const METHODS_WITH_BODY: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH"]);
const NO_FRAMING: RequestFraming = { kind: "none" };
const EMPTY_FRAMING: RequestFraming = { kind: "length", length: 0 };
const CHUNKED_FRAMING: RequestFraming = { kind: "chunked" };
const NO_BODY: BodyFraming = { kind: "none" };
const encoder = new TextEncoder();
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
/** Errors from the socket layer that mean the peer or the connection is gone. */
const NETWORK_ERRORS: readonly (new (...args: never[]) => Error)[] = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.BrokenPipe,
  Deno.errors.NotConnected,
  Deno.errors.AddrNotAvailable,
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.TimedOut,
  Deno.errors.UnexpectedEof,
  Deno.errors.BadResource,
  Deno.errors.Interrupted,
];

/** One socket to an upstream plus its read buffer; unread bytes are `buffer[start, end)`. */
class UpstreamConnection {
  readonly key: string;
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(READ_BUFFER_BYTES);
  start = 0;
  end = 0;
  /** Served an earlier exchange, so a failure before any response byte may mean it went stale. */
  hasServed = false;
  isIdle = false;
  isClosed = false;
  /** A read issued while idle (to notice the peer closing); the next `fill()` takes it over. */
  #pendingRead: Promise<number | null> | null = null;

  constructor(key: string, conn: Deno.Conn) {
    this.key = key;
    this.#conn = conn;
  }

  get buffer(): Uint8Array<ArrayBuffer> {
    return this.#buffer;
  }

  get unread(): Uint8Array {
    return this.#buffer.subarray(this.start, this.end);
  }

  /** Reads more bytes after `end`; false on EOF. Grows the buffer only while a head is incomplete. */
  async fill(): Promise<boolean> {
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    } else if (this.end === this.#buffer.length) {
      if (this.start > 0) {
        this.#buffer.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const bigger = new Uint8Array(this.#buffer.length * 2);
        bigger.set(this.#buffer);
        this.#buffer = bigger;
      }
    }
    const pending = this.#pendingRead;
    this.#pendingRead = null;
    const n = await (pending ?? this.#conn.read(this.#buffer.subarray(this.end)));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  async writeAll(bytes: Uint8Array): Promise<void> {
    let written = await this.#conn.write(bytes);
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  /**
   * Parks the connection: a read stays pending so that a peer close (or stray bytes) is noticed
   * while idle and `onDead` drops it from the pool before a request is lost on it.
   */
  park(onDead: (conn: UpstreamConnection) => void): void {
    this.isIdle = true;
    this.hasServed = true;
    this.start = 0;
    this.end = 0;
    const read = this.#conn.read(this.#buffer);
    this.#pendingRead = read;
    const check = (): void => {
      if (this.isIdle) onDead(this);
    };
    read.then(check, check);
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isIdle = false;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime; nothing left to release.
    }
  }
}

class PooledUpstreamClient implements UpstreamClient {
  readonly #maxIdle: number;
  readonly #idle = new Map<string, UpstreamConnection[]>();
  readonly #active = new Set<UpstreamConnection>();
  #isClosed = false;

  constructor(maxIdle: number) {
    this.#maxIdle = maxIdle;
  }

  send(
    target: UpstreamTarget,
    request: UpstreamRequest,
    options: UpstreamSendOptions,
  ): Promise<Response> {
    return new Exchange(this, target, request, options).run();
  }

  closeTarget(target: UpstreamTarget): void {
    const key = targetKey(target);
    const idle = this.#idle.get(key);
    this.#idle.delete(key);
    for (const conn of idle ?? []) conn.close();
  }

  close(): void {
    this.#isClosed = true;
    for (const idle of this.#idle.values()) for (const conn of idle) conn.close();
    this.#idle.clear();
    for (const conn of this.#active) conn.close();
    this.#active.clear();
  }

  /** Takes the most recently parked connection for `key` (LIFO keeps the warmest sockets busy). */
  take(key: string): UpstreamConnection | undefined {
    const conn = this.#idle.get(key)?.pop();
    if (conn === undefined) return undefined;
    conn.isIdle = false;
    this.#active.add(conn);
    return conn;
  }

  async connect(
    target: UpstreamTarget,
    key: string,
    interrupt: Promise<never>,
  ): Promise<UpstreamConnection> {
    if (this.#isClosed) {
      throw new UpstreamConnectError(`Cannot reach "${key}": the client is closed`);
    }
    const connecting: Promise<Deno.Conn> = target.kind === "tcp"
      ? Deno.connect({ hostname: target.hostname, port: target.port })
      : Deno.connect({ transport: "unix", path: target.path });
    let socket: Deno.Conn;
    try {
      socket = await Promise.race([connecting, interrupt]);
    } catch (error) {
      // Interrupted by a timeout or abort: the socket may still open later; close it then.
      connecting.then((late) => late.close(), () => {});
      throw error;
    }
    if (target.kind === "tcp") (socket as Deno.TcpConn).setNoDelay(true);
    const conn = new UpstreamConnection(key, socket);
    this.#active.add(conn);
    return conn;
  }

  /** Returns a connection after an exchange: parked for reuse, or closed. */
  release(conn: UpstreamConnection, isReusable: boolean): void {
    this.#active.delete(conn);
    if (!isReusable || this.#isClosed || conn.isClosed || this.#maxIdle <= 0) {
      conn.close();
      return;
    }
    let idle = this.#idle.get(conn.key);
    if (idle === undefined) {
      idle = [];
      this.#idle.set(conn.key, idle);
    }
    if (idle.length >= this.#maxIdle) {
      conn.close();
      return;
    }
    idle.push(conn);
    conn.park(this.#dropDead);
  }

  readonly #dropDead = (conn: UpstreamConnection): void => {
    const idle = this.#idle.get(conn.key);
    const index = idle?.indexOf(conn) ?? -1;
    if (idle !== undefined && index !== -1) {
      idle.splice(index, 1);
      if (idle.length === 0) this.#idle.delete(conn.key);
    }
    conn.close();
  };
}

/** One request/response exchange: connection choice, retry, timeouts and both body loops. */
class Exchange {
  readonly #client: PooledUpstreamClient;
  readonly #target: UpstreamTarget;
  readonly #key: string;
  readonly #request: UpstreamRequest;
  readonly #options: UpstreamSendOptions;
  #conn: UpstreamConnection | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #interrupt: PromiseWithResolvers<never> | null = null;
  #isTimedOut = false;
  #isAborted = false;
  #isSettled = false;
  #hasResponseBytes = false;
  #isBodySent: boolean;
  #bodyReader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #bodySourceError: { readonly error: unknown } | null = null;
  #framing: BodyFraming = NO_BODY;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;
  #isKeepAlive = false;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;

  constructor(
    client: PooledUpstreamClient,
    target: UpstreamTarget,
    request: UpstreamRequest,
    options: UpstreamSendOptions,
  ) {
    this.#client = client;
    this.#target = target;
    this.#key = targetKey(target);
    this.#request = request;
    this.#options = options;
    this.#isBodySent = request.body === null;
  }

  async run(): Promise<Response> {
    try {
      this.#options.signal?.throwIfAborted();
      const { method, pathAndQuery, headers } = this.#request;
      const framing = requestFraming(this.#request);
      const head = serializeRequestHead(method, pathAndQuery, headers, {
        framing,
        defaultHost: defaultHost(this.#target),
      });
      this.#armInterrupts();
      const responseHead = await this.#exchangeHead(head, framing);
      clearTimeout(this.#timer);
      return this.#respond(responseHead);
    } catch (error) {
      const mapped = this.#mapError(error, "head");
      this.#settle(false);
      throw mapped;
    }
  }

  #armInterrupts(): void {
    const timeoutMs = this.#options.headersTimeoutMs;
    if (Number.isFinite(timeoutMs)) {
      this.#timer = setTimeout(this.#onTimeout, Math.max(0, timeoutMs));
    }
    this.#options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  readonly #onTimeout = (): void => {
    this.#isTimedOut = true;
    this.#interruptHead(new UpstreamTimeoutError("timed out"));
  };

  readonly #onAbort = (): void => {
    this.#isAborted = true;
    const reason: unknown = this.#options.signal?.reason;
    if (this.#controller === null) return this.#interruptHead(reason);
    this.#controller.error(reason);
    this.#settle(false);
  };

  /** Makes a pending connect, write or head read fail now; `#mapError` reads the flags. */
  #interruptHead(reason: unknown): void {
    this.#conn?.close();
    this.#interrupt?.reject(reason);
  }

  async #exchangeHead(head: Uint8Array, framing: RequestFraming): Promise<ResponseHead> {
    for (let attempt = 0;; attempt++) {
      if (this.#isTimedOut || this.#isAborted) throw new UpstreamConnectError("interrupted");
      const conn = (attempt === 0 ? this.#client.take(this.#key) : undefined) ??
        await this.#connect();
      this.#conn = conn;
      try {
        await conn.writeAll(head);
        const body = this.#request.body;
        if (body !== null) void this.#pumpBody(conn, body, framing);
        return await this.#readHead(conn);
      } catch (error) {
        // A parked connection the upstream closed meanwhile: safe to replay only without a body.
        if (attempt === 0 && conn.hasServed && this.#isReplayable(error)) {
          this.#conn = null;
          this.#client.release(conn, false);
          continue;
        }
        throw error;
      }
    }
  }

  #isReplayable(error: unknown): boolean {
    if (this.#request.body !== null || this.#hasResponseBytes) return false;
    if (this.#isTimedOut || this.#isAborted) return false;
    return error instanceof UpstreamConnectError || isNetworkError(error);
  }

  async #connect(): Promise<UpstreamConnection> {
    this.#interrupt = Promise.withResolvers<never>();
    try {
      return await this.#client.connect(this.#target, this.#key, this.#interrupt.promise);
    } finally {
      this.#interrupt = null;
    }
  }

  async #readHead(conn: UpstreamConnection): Promise<ResponseHead> {
    for (;;) {
      if (conn.start < conn.end) {
        const head = parseResponseHead(conn.unread);
        if (head !== "incomplete") {
          conn.start += head.headLength;
          if (head.status === 101) {
            throw new UpstreamProtocolError("protocol upgrade (101) is not supported");
          }
          if (head.status >= 200) return head;
          continue; // Interim 1xx response (100 Continue, 103 Early Hints): wait for the final one.
        }
      }
      if (!(await conn.fill())) {
        throw this.#hasResponseBytes
          ? new UpstreamProtocolError("connection closed in the middle of the response head")
          : new UpstreamConnectError("connection closed before any response byte");
      }
      this.#hasResponseBytes = true;
    }
  }

  #respond(head: ResponseHead): Response {
    const conn = this.#conn!;
    let framing = responseBodyFraming(this.#request.method, head.status, head.headers);
    if (head.status === 205) {
      // 205 forbids content; an explicit zero length is the only framing it can carry.
      if (framing.kind === "length" && framing.length === 0) framing = NO_BODY;
      if (framing.kind !== "none") throw new UpstreamProtocolError("205 response with a body");
    }
    this.#framing = framing;
    // Either side saying `Connection: close` ends the connection after this exchange.
    this.#isKeepAlive = isKeepAlive(head) && !hasCloseOption(this.#request.headers);
    const init: ResponseFields = {
      status: head.status,
      statusText: head.statusText,
      headers: filterHopByHop(head.headers),
    };
    if (framing.kind === "none") return this.#respondBuffered(null, init);
    if (framing.kind === "length") {
      this.#remaining = framing.length;
      if (framing.length <= FAST_PATH_MAX_BYTES && conn.end - conn.start >= framing.length) {
        const body = framing.length === 0
          ? null
          : conn.buffer.slice(conn.start, conn.start + framing.length);
        conn.start += framing.length;
        return this.#respondBuffered(body, init);
      }
      return this.#respondStreaming([], false, init);
    }
    if (framing.kind === "chunked") {
      this.#decoder = new ChunkedDecoder();
      const { data, isDone, leftover } = this.#decoder.feed(conn.unread);
      conn.start = conn.end - leftover.length;
      const total = data.reduce((sum, piece) => sum + piece.length, 0);
      if (isDone && total <= FAST_PATH_MAX_BYTES) {
        return this.#respondBuffered(concat(data, total), init);
      }
      return this.#respondStreaming(data.map((piece) => piece.slice()), isDone, init);
    }
    return this.#respondStreaming([], false, init);
  }

  #respondBuffered(body: Uint8Array<ArrayBuffer> | null, init: ResponseFields): Response {
    const response = buildResponse(body, init);
    this.#completeBody();
    return response;
  }

  #respondStreaming(initial: Uint8Array[], isDone: boolean, init: ResponseFields): Response {
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        for (const piece of initial) controller.enqueue(piece);
        if (isDone) this.#closeBody(controller);
      },
      pull: (controller) => this.#pull(controller),
      cancel: () => this.#settle(false),
    });
    return buildResponse(stream, init);
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const conn = this.#conn;
    if (conn === null || this.#isSettled) return;
    try {
      for (;;) {
        if (conn.start < conn.end && this.#deliver(controller, conn)) return;
        if (!(await conn.fill())) return this.#endOfStream(controller);
        if (this.#isSettled) return;
      }
    } catch (error) {
      if (this.#isSettled) return;
      controller.error(this.#mapError(error, "body"));
      this.#settle(false);
    }
  }

  /** Moves buffered body bytes into the stream; true when it enqueued something or finished. */
  #deliver(
    controller: ReadableStreamDefaultController<Uint8Array>,
    conn: UpstreamConnection,
  ): boolean {
    const framing = this.#framing;
    if (framing.kind === "chunked") {
      const { data, isDone, leftover } = this.#decoder!.feed(conn.unread);
      conn.start = conn.end - leftover.length;
      for (const piece of data) controller.enqueue(piece.slice());
      if (isDone) this.#closeBody(controller);
      return isDone || data.length > 0;
    }
    const take = framing.kind === "length"
      ? Math.min(this.#remaining, conn.end - conn.start)
      : conn.end - conn.start;
    controller.enqueue(conn.buffer.slice(conn.start, conn.start + take));
    conn.start += take;
    this.#remaining -= take;
    if (framing.kind === "length" && this.#remaining === 0) this.#closeBody(controller);
    return true;
  }

  #endOfStream(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#framing.kind === "close") return this.#closeBody(controller);
    controller.error(
      new UpstreamProtocolError(
        `Cannot proxy to "${this.#key}": connection closed before the response body ended`,
      ),
    );
    this.#settle(false);
  }

  #closeBody(controller: ReadableStreamDefaultController<Uint8Array>): void {
    controller.close();
    this.#completeBody();
  }

  #completeBody(): void {
    const conn = this.#conn;
    const isReusable = conn !== null && this.#isKeepAlive && this.#isBodySent &&
      this.#framing.kind !== "close" && conn.start === conn.end;
    this.#settle(isReusable);
  }

  /** Streams the request body; never rejects. Write failures only stop reuse of the socket. */
  async #pumpBody(
    conn: UpstreamConnection,
    body: ReadableStream<Uint8Array>,
    framing: RequestFraming,
  ): Promise<void> {
    const reader = body.getReader();
    this.#bodyReader = reader;
    let sentBytes = 0;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          return this.#failBodySource(error);
        }
        if (this.#isSettled || conn.isClosed) return;
        if (chunk.done) break;
        const bytes = chunk.value;
        if (bytes.length === 0) continue;
        sentBytes += bytes.length;
        if (framing.kind === "length" && sentBytes > framing.length) {
          return this.#failBodySource(
            new TypeError("Cannot send request body: longer than its Content-Length"),
          );
        }
        await conn.writeAll(framing.kind === "chunked" ? encodeChunk(bytes) : bytes);
      }
      if (framing.kind === "length" && sentBytes !== framing.length) {
        return this.#failBodySource(
          new TypeError("Cannot send request body: shorter than its Content-Length"),
        );
      }
      if (framing.kind === "chunked") await conn.writeAll(LAST_CHUNK);
      this.#isBodySent = true;
    } catch {
      // A write failed. The upstream may still have answered (a 413 and close), so the response
      // read carries on; #isBodySent stays false, so the socket is not reused.
    }
  }

  /** The client's body stream failed: the upstream would wait forever, so drop the socket. */
  #failBodySource(error: unknown): void {
    if (this.#isSettled) return;
    this.#bodySourceError = { error };
    this.#conn?.close();
  }

  #mapError(error: unknown, phase: "head" | "body"): unknown {
    if (this.#isAborted) return this.#options.signal?.reason ?? error;
    const where = `Cannot proxy to "${this.#key}"`;
    if (this.#isTimedOut) {
      return new UpstreamTimeoutError(
        `${where}: no response head within ${this.#options.headersTimeoutMs} ms`,
        { cause: error },
      );
    }
    if (this.#bodySourceError !== null) return this.#bodySourceError.error;
    if (error instanceof UpstreamConnectError) {
      return new UpstreamConnectError(`${where}: ${error.message}`, { cause: error });
    }
    if (error instanceof UpstreamProtocolError || error instanceof HttpParseError) {
      return new UpstreamProtocolError(`${where}: ${error.message}`, { cause: error });
    }
    if (isNetworkError(error)) {
      const message = `${where}: ${(error as Error).message}`;
      return phase === "head" && !this.#hasResponseBytes
        ? new UpstreamConnectError(message, { cause: error })
        : new UpstreamProtocolError(`${message} (response cut short)`, { cause: error });
    }
    return error;
  }

  #settle(isReusable: boolean): void {
    if (this.#isSettled) return;
    this.#isSettled = true;
    clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    if (this.#bodyReader !== null && !this.#isBodySent) this.#bodyReader.cancel().catch(() => {});
    const conn = this.#conn;
    if (conn !== null) this.#client.release(conn, isReusable);
    this.#options.onDone?.();
  }
}

/** Status line and end-to-end header fields of the response to build. */
interface ResponseFields {
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly (readonly [string, string])[];
}

function requestFraming(request: UpstreamRequest): RequestFraming {
  const declared = request.headers.get("content-length");
  if (request.body === null) {
    return declared !== null || METHODS_WITH_BODY.has(request.method) ? EMPTY_FRAMING : NO_FRAMING;
  }
  if (declared === null) return CHUNKED_FRAMING;
  try {
    return { kind: "length", length: parseContentLength(declared) };
  } catch (cause) {
    throw new TypeError(`Cannot send request: invalid Content-Length "${declared}"`, { cause });
  }
}

function hasCloseOption(headers: Headers): boolean {
  const connection = headers.get("connection");
  return connection !== null && /(?:^|,)\s*close\s*(?:,|$)/i.test(connection);
}

function buildResponse(body: BodyInit | null, init: ResponseFields): Response {
  try {
    // Appending after construction costs about half of passing the pairs in ResponseInit.
    const response = new Response(body, { status: init.status, statusText: init.statusText });
    const headers = response.headers;
    for (const [name, value] of init.headers) headers.append(name, value);
    return response;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UpstreamProtocolError(`unusable response: ${message}`, { cause: error });
  }
}

function encodeChunk(bytes: Uint8Array): Uint8Array {
  const sizeLine = `${bytes.length.toString(16)}\r\n`;
  const out = new Uint8Array(sizeLine.length + bytes.length + 2);
  encoder.encodeInto(sizeLine, out);
  out.set(bytes, sizeLine.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

function concat(pieces: readonly Uint8Array[], total: number): Uint8Array<ArrayBuffer> | null {
  if (total === 0) return null;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

function isNetworkError(error: unknown): boolean {
  return NETWORK_ERRORS.some((kind) => error instanceof kind);
}

function targetKey(target: UpstreamTarget): string {
  return target.kind === "unix" ? `unix:${target.path}` : defaultHost(target);
}

function defaultHost(target: UpstreamTarget): string {
  if (target.kind === "unix") return "localhost";
  const host = target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname;
  return `${host}:${target.port}`;
}
