/**
 * The raw HTTP/1.1 front: tenement's public listener. It reads request heads itself (strictly,
 * `http1_request.ts`), routes on Host, asks the resolver for a target (which wakes instances),
 * and forwards over pooled keep-alive upstream connections with manual read/write loops: no
 * `Request`/`Response` objects and no streams on the hot path, because `Deno.serve` plus an
 * upstream client reaches only a fraction of nginx's throughput (perf-baseline §2). Response bytes
 * pass through untouched (gzip stays gzip, chunked stays chunked); the head changes only where a
 * proxy must change it. Upgrades (WebSockets) are spliced both ways after a 101.
 *
 * Pipelining: requests on one client connection are served strictly in order, one at a time;
 * bytes of later requests wait in the connection's buffer (bounded) until the current response is
 * complete. Timeouts: a request head must arrive within `headTimeoutMs`, an idle keep-alive
 * connection is closed after `idleTimeoutMs`, a request body or client write that stalls for
 * `bodyTimeoutMs`/`sendTimeoutMs` ends the connection, and a response head that takes longer than
 * the target's `requestTimeoutMs` is a 504. Deadlines are checked by one sweep timer, not one
 * timer per request. Edge: sockets, timers and logging.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type HostRoute, parseHostRoute } from "../core/host_route.ts";
import { readStickyId } from "../core/sticky.ts";
import type { Target, TargetResolver } from "../supervisor/supervisor.ts";
import { BufferedSocket } from "./buffered_socket.ts";
import {
  badGatewayPage,
  CONTINUE_BYTES,
  type ErrorPage,
  gatewayTimeoutPage,
  invalidHostPage,
  malformedRequestPage,
  plainPage,
  resolveFailurePage,
  serializeErrorPage,
} from "./error_responses.ts";
import {
  type ForwardedLinesCache,
  forwardRequestHead,
  newForwardedLinesCache,
  rewriteResponseHead,
} from "./head_rewrite.ts";
import { ChunkedDecoder } from "./http1.ts";
import {
  ChunkedBodyDecoder,
  encodeChunk,
  fieldValue,
  LAST_CHUNK,
  parseRequestHead,
  type RequestHead,
  RequestParseError,
} from "./http1_request.ts";
import { newResponseHeadScan, type ResponseHeadScan, scanResponseHead } from "./http1_response.ts";
import type { UpstreamTarget } from "./upstream_pool.ts";
import { targetKey, UpstreamPool, type UpstreamSocket } from "./upstream_pool.ts";

const log = getLogger(["tenement", "proxy"]);

/** Options for {@linkcode startFrontServer}. */
export interface FrontServerOptions {
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Bind address. @default {"0.0.0.0"} */
  readonly hostname?: string;
  /** The domain whose subdomains are instances (`{id}.{service}.{domain}`) and services. */
  readonly domain: string;
  /** Finds (and wakes) targets and counts activity. */
  readonly resolver: TargetResolver;
  /**
   * Where requests for tenement's own hosts (API, /health, /metrics, dashboard) go, forwarded
   * the same raw way with `X-Forwarded-For` set to the client address. Without it they get 404.
   */
  readonly fallback?: UpstreamTarget;
  /** Time allowed for the fallback's response head. @default {600000} */
  readonly fallbackTimeoutMs?: number;
  /** Scheme clients use, for `X-Forwarded-Proto`. @default {"http"} */
  readonly proto?: "http" | "https";
  /**
   * Append the client address to an incoming `X-Forwarded-For` list (true) or replace the list
   * (false) on requests to instances. @default {true}
   */
  readonly trustForwardedFor?: boolean;
  /** Called once per proxied request when its status is known (response head or error). */
  readonly onProxied?: (target: Target, status: number, durationMs: number) => void;
  /**
   * Whether to reach `target` over its Unix socket (`target.socketPath`); when that connect
   * fails, TCP is used. @default {() => false}
   */
  readonly preferUnix?: (target: Target) => boolean;
  /** Time allowed for a whole request head, from its first byte. @default {30000} */
  readonly headTimeoutMs?: number;
  /** A keep-alive connection without a request for this long is closed. @default {75000} */
  readonly idleTimeoutMs?: number;
  /** A request body read that makes no progress for this long ends the connection. @default {60000} */
  readonly bodyTimeoutMs?: number;
  /** A write to the client that makes no progress for this long ends the connection. @default {60000} */
  readonly sendTimeoutMs?: number;
  /** Client connections beyond this are closed on accept. @default {10000} */
  readonly maxConnections?: number;
  /** Idle keep-alive connections kept per upstream target. @default {64} */
  readonly maxIdlePerUpstream?: number;
  /** Idle upstream connections are closed after this long. @default {60000} */
  readonly upstreamIdleTimeoutMs?: number;
  /** Called once listening. */
  readonly onListen?: (addr: Deno.NetAddr) => void;
}

/** Options for {@linkcode FrontServer.shutdown}. */
export interface FrontShutdownOptions {
  /** Time in-flight exchanges get before their connections are closed. @default {10000} */
  readonly graceMs?: number;
}

/** A running front. Disposing it shuts it down gracefully. */
export interface FrontServer extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  /**
   * Stops accepting, closes idle connections, lets in-flight exchanges finish (closing their
   * connections afterwards) for up to `graceMs`, then closes everything. Idempotent.
   */
  shutdown(options?: FrontShutdownOptions): Promise<void>;
  /** Closes pooled idle connections to `target` (its instance stopped). */
  closeUpstream(target: UpstreamTarget): void;
  /** Open client connections (tests, metrics). */
  readonly connectionCount: number;
}

/**
 * Starts listening and serving.
 *
 * @example
 * ```ts ignore
 * await using front = startFrontServer({ port: 8080, domain: "localhost", resolver: supervisor });
 * ```
 */
export function startFrontServer(options: FrontServerOptions): FrontServer {
  return new Front(options);
}

/** Buffer for bodies in flight and combined writes. */
const SCRATCH_BYTES = 64 * 1024;
const MAX_POOLED_SCRATCH = 64;
/** How long a connection that answered early keeps draining the request body before closing. */
const LINGER_MS = 2_000;
const MAX_INTERIM_RESPONSES = 10;
const SWEEP_MS = 100;
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

interface Settings {
  readonly domain: string;
  readonly resolver: TargetResolver;
  readonly fallback: UpstreamTarget | undefined;
  readonly fallbackKey: string;
  readonly fallbackHost: string;
  readonly fallbackTimeoutMs: number;
  readonly proto: "http" | "https";
  readonly trustForwardedFor: boolean;
  readonly onProxied: ((target: Target, status: number, durationMs: number) => void) | undefined;
  readonly preferUnix: (target: Target) => boolean;
  readonly headTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly sendTimeoutMs: number;
}

class Front implements FrontServer {
  readonly addr: Deno.NetAddr;
  readonly settings: Settings;
  readonly pool: UpstreamPool;
  readonly #listener: Deno.TcpListener;
  readonly #maxConnections: number;
  readonly #conns = new Set<ClientConnection>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #scratch: Uint8Array<ArrayBuffer>[] = [];
  readonly #acceptLoop: Promise<void>;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #shutdown: Promise<void> | null = null;
  isShuttingDown = false;

  constructor(options: FrontServerOptions) {
    const fallback = options.fallback;
    this.settings = {
      domain: options.domain,
      resolver: options.resolver,
      fallback,
      fallbackKey: fallback === undefined ? "" : targetKey(fallback),
      fallbackHost: fallback === undefined || fallback.kind === "unix"
        ? "localhost"
        : targetKey(fallback),
      fallbackTimeoutMs: options.fallbackTimeoutMs ?? 600_000,
      proto: options.proto ?? "http",
      trustForwardedFor: options.trustForwardedFor ?? true,
      onProxied: options.onProxied,
      preferUnix: options.preferUnix ?? (() => false),
      headTimeoutMs: options.headTimeoutMs ?? 30_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 75_000,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 60_000,
      sendTimeoutMs: options.sendTimeoutMs ?? 60_000,
    };
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.pool = new UpstreamPool({
      maxIdlePerTarget: options.maxIdlePerUpstream ?? 64,
      idleTimeoutMs: options.upstreamIdleTimeoutMs ?? 60_000,
    });
    this.#listener = Deno.listen({
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port,
      transport: "tcp",
    });
    this.addr = this.#listener.addr;
    options.onListen?.(this.addr);
    this.#acceptLoop = this.#accept();
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  closeUpstream(target: UpstreamTarget): void {
    this.pool.closeTarget(target);
  }

  /** A 64 KiB buffer from the free list. */
  takeScratch(): Uint8Array<ArrayBuffer> {
    return this.#scratch.pop() ?? new Uint8Array(SCRATCH_BYTES);
  }

  giveScratch(buf: Uint8Array<ArrayBuffer>): void {
    if (this.#scratch.length < MAX_POOLED_SCRATCH) this.#scratch.push(buf);
  }

  shutdown(options: FrontShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#drain(options.graceMs ?? 10_000);
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #drain(graceMs: number): Promise<void> {
    this.isShuttingDown = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#acceptLoop;
    for (const conn of this.#conns) if (conn.isIdle) conn.sock.close();
    if (this.#tasks.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([Promise.all(this.#tasks), grace]);
      clearTimeout(timer);
      for (const conn of this.#conns) conn.forceClose();
      await Promise.all(this.#tasks);
    }
    this.pool.close();
    this.#stopSweeper();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.isShuttingDown || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors or similar: back off briefly instead of spinning.
        log.warn("Cannot accept a connection: {error}", { error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (this.isShuttingDown || this.#conns.size >= this.#maxConnections) {
        conn.close();
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // The peer is already gone; the first read says so.
      }
      const client = new ClientConnection(this, conn);
      this.#conns.add(client);
      if (this.#sweeper === undefined) {
        this.nowMs = performance.now();
        this.#sweeper = setInterval(this.#sweep, SWEEP_MS);
      }
      const task: Promise<void> = client.run().finally(() => {
        this.#conns.delete(client);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  /**
   * A coarse monotonic clock for deadlines, in ms: updated by every sweep, so it is at most one
   * sweep interval behind. Reading `performance.now()` is an op call, several per request.
   */
  nowMs = performance.now();

  /** A deadline `ms` from now, never early: the sweep may run up to one interval late. */
  deadline(ms: number): number {
    return this.nowMs + ms + SWEEP_MS;
  }

  readonly #sweep = (): void => {
    const nowMs = performance.now();
    this.nowMs = nowMs;
    for (const conn of this.#conns) conn.checkDeadlines(nowMs);
    this.pool.sweep(nowMs);
    if (this.#conns.size === 0 && this.pool.idleCount === 0) this.#stopSweeper();
  };

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

/** How the request body transfer to the upstream ended. */
const enum PumpResult {
  Done,
  /** The upstream stopped taking it; the rest was read and dropped. */
  Dropped,
  ClientGone,
  /** Malformed chunked body. */
  BadBody,
}

/** Where the request body stands. */
const enum BodyState {
  /** Not read yet (some of it may be buffered). */
  Unread,
  /** Being sent to the upstream. */
  Pumping,
  /** Read completely (forwarded or dropped): the connection can carry another request. */
  Consumed,
  /** Malformed or cut short: the connection must close. */
  Broken,
}

/** Which connections may carry another exchange after a response was relayed (bits). */
const enum Relayed {
  Close = 0,
  KeepClient = 1,
  KeepUpstream = 2,
}

/** One client connection and the request being served on it. */
class ClientConnection {
  readonly sock: BufferedSocket;
  readonly clientIp: string;
  readonly #front: Front;
  readonly #s: Settings;
  /** Deadlines (on the front's coarse clock, 0 = none), checked by the front's sweep. */
  readDeadline = 0;
  writeDeadline = 0;
  upstreamDeadline = 0;
  /** Waiting for the next request with nothing buffered (may be closed on shutdown). */
  isIdle = false;
  #abort: AbortController | null = null;
  #isGone = false;
  #isTimedOut = false;
  #needsLinger = false;
  #lingerUntil = 0;
  #upstream: UpstreamSocket | null = null;
  #interrupt: (() => void) | null = null;
  #bodyState = BodyState.Consumed;
  #isResponseStarted = false;
  #sentContinue = false;
  // Per-connection memos: keep-alive requests usually repeat the Host and the target.
  #lastHost: string | null | undefined = undefined;
  #lastRoute: HostRoute = { kind: "builtin" };
  #lastPort = -1;
  #lastPortKey = "";
  readonly #forwardedCache: ForwardedLinesCache = newForwardedLinesCache();
  #headOut = new Uint8Array(4096);
  readonly #response: ResponseHeadScan = newResponseHeadScan();

  constructor(front: Front, conn: Deno.TcpConn) {
    this.#front = front;
    this.#s = front.settings;
    this.sock = new BufferedSocket(conn, { initialBytes: 16 * 1024, maxBytes: 128 * 1024 });
    this.clientIp = conn.remoteAddr.hostname;
    this.sock.onEnd = this.#onClientEnd;
  }

  /** Serves requests in order until the connection ends. */
  async run(): Promise<void> {
    const sock = this.sock;
    const s = this.#s;
    try {
      for (;;) {
        // Read the next request head (bytes of pipelined requests may be buffered already).
        let head: RequestHead | null = null;
        let scanned = 0;
        this.isIdle = sock.buffered === 0;
        this.readDeadline = this.#front.deadline(this.isIdle ? s.idleTimeoutMs : s.headTimeoutMs);
        try {
          for (;;) {
            if (sock.buffered > 0) {
              if (this.isIdle) {
                this.isIdle = false;
                this.readDeadline = this.#front.deadline(s.headTimeoutMs);
              }
              head = parseRequestHead(sock.unread(), { searchFrom: scanned });
              if (head !== null) break;
              scanned = sock.buffered;
            }
            if (this.isIdle && this.#front.isShuttingDown) return;
            await sock.fill();
            if (sock.isEnded) return;
          }
        } catch (error) {
          if (!(error instanceof RequestParseError)) throw error;
          this.#needsLinger = true;
          await this.#writeClient(serializeErrorPage(malformedRequestPage(), { isClose: true }));
          return;
        }
        this.readDeadline = 0;
        this.isIdle = false;
        if (!(await this.#serve(head))) return;
        if (this.#isGone || this.#front.isShuttingDown) return;
      }
    } catch (error) {
      log.error("Unexpected error on a client connection: {error}", {
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    } finally {
      this.readDeadline = 0;
      this.writeDeadline = 0;
      this.upstreamDeadline = 0;
      this.isIdle = false;
      if (this.#needsLinger && !this.#isGone) await this.#linger();
      sock.close();
    }
  }

  /** Closes everything now (shutdown grace is over, or a deadline passed). */
  forceClose(): void {
    this.#onClientGone();
    this.sock.close();
  }

  checkDeadlines(nowMs: number): void {
    if (this.readDeadline !== 0 && nowMs >= this.readDeadline) {
      this.readDeadline = 0;
      this.forceClose();
    }
    if (this.writeDeadline !== 0 && nowMs >= this.writeDeadline) {
      this.writeDeadline = 0;
      this.forceClose();
    }
    if (this.upstreamDeadline !== 0 && nowMs >= this.upstreamDeadline) {
      this.upstreamDeadline = 0;
      this.#isTimedOut = true;
      this.#upstream?.close();
      this.#interrupt?.();
    }
  }

  /** The client went away (or must): stop whatever is in flight for it. */
  readonly #onClientGone = (): void => {
    if (this.#isGone) return;
    this.#isGone = true;
    this.sock.close();
    this.#abort?.abort(new DOMException("The client closed the connection", "AbortError"));
    this.#upstream?.close();
    this.#interrupt?.();
  };

  /**
   * The client ended its side. With pipelined requests still buffered they are served first
   * (writes may still work on a half-closed connection); otherwise the client is gone, as nginx
   * also judges it.
   */
  readonly #onClientEnd = (): void => {
    if (this.sock.buffered > 0 && this.#bodyState !== BodyState.Pumping) return;
    this.#onClientGone();
  };

  #routeFor(host: string | null): HostRoute {
    if (host !== this.#lastHost) {
      this.#lastRoute = parseHostRoute(host, this.#s.domain);
      this.#lastHost = host;
    }
    return this.#lastRoute;
  }

  #signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  // ---- one request ---------------------------------------------------------------------------

  /**
   * Serves one request: routes on Host, resolves the target (waking it), forwards, relays the
   * answer. True when the connection may carry the next request.
   */
  async #serve(head: RequestHead): Promise<boolean> {
    const sock = this.sock;
    const s = this.#s;
    const base = sock.start;
    const route = this.#routeFor(head.host);
    sock.start += head.headLength;
    this.#isTimedOut = false;
    this.#sentContinue = false;
    this.#bodyState = head.framing.kind === "none" || isZeroLength(head)
      ? BodyState.Consumed
      : BodyState.Unread;
    if (route.kind === "invalid") return await this.#answer(head, invalidHostPage(route.reason));
    const isBuiltin = route.kind === "builtin";
    if (isBuiltin && s.fallback === undefined) {
      return await this.#answer(head, plainPage(404, "Not found"));
    }
    const isUpgrade = head.upgrade !== null && head.framing.kind === "none";
    // Built now, while the head's bytes are certainly still in place in the buffer.
    const upHead = forwardRequestHead(sock.buf.subarray(base, base + head.headLength), head, {
      clientIp: this.clientIp,
      proto: s.proto,
      trustForwardedFor: !isBuiltin && s.trustForwardedFor,
      isUpgrade,
      dropExpect: head.expectsContinue,
      defaultHost: s.fallbackHost,
      cache: this.#forwardedCache,
    }, this.#headOut);
    // A read stays pending from here on: it notices the client leaving (wake, slow response).
    sock.watch();
    let target: Target | null = null;
    if (!isBuiltin) {
      try {
        target = route.kind === "direct"
          ? await s.resolver.resolveDirect(route.service, route.id, this.#signal())
          : await s.resolver.resolveWeighted(
            route.service,
            this.#signal(),
            readStickyId(cookieOf(head), route.service),
          );
      } catch (error) {
        if (this.#isGone) return false;
        const page = resolveFailurePage(error, { accept: fieldValue(head, "accept") });
        if (page.status === 503) {
          log.warn("Cannot serve {host}{target}: {error}", {
            host: head.host,
            target: head.target,
            error: error instanceof Error ? error.message : String(error),
          });
        }
        return await this.#answer(head, page);
      }
      if (this.#isGone) return false;
    }

    // Forward, holding the target's activity until the response is delivered or the client is
    // gone. All in this one async function for the common exchange (every extra async frame
    // per request costs measurable throughput); helpers only for the rarer parts.
    const front = this.#front;
    // Precise time only for the metrics hook; deadlines use the coarse clock.
    const started = s.onProxied === undefined ? 0 : performance.now();
    let release = target === null ? null : s.resolver.beginRequest(target);
    const timeoutMs = target === null ? s.fallbackTimeoutMs : target.requestTimeoutMs;
    this.upstreamDeadline = Number.isFinite(timeoutMs) && timeoutMs > 0
      ? front.deadline(timeoutMs)
      : 0;
    let hasWaitedForRestart = false;
    try {
      attempts: for (let attempt = 0; attempt < 5; attempt++) {
        // A connection: pooled, else new (after waiting for a restart when refused).
        let up = this.#takePooled(target);
        const isReused = up !== undefined;
        if (up === undefined) {
          try {
            up = await this.#connect(target);
          } catch (error) {
            if (this.#isGone) return false;
            if (this.#isTimedOut) {
              return await this.#fail(head, target, started, gatewayTimeoutPage());
            }
            if (target !== null && !hasWaitedForRestart) {
              hasWaitedForRestart = true;
              const next = await this.#waitForRestart(target);
              if (this.#isGone) return false;
              if (this.#isTimedOut) {
                return await this.#fail(head, target, started, gatewayTimeoutPage());
              }
              if (next !== undefined) {
                release?.();
                target = next;
                release = s.resolver.beginRequest(target);
                continue attempts;
              }
            }
            logUpstreamFailure(target, error);
            return await this.#fail(head, target, started, badGatewayPage());
          }
        }
        this.#upstream = up;
        let isReusable = false;
        let pump: Promise<PumpResult> | null = null;
        try {
          if (this.#isGone) return false;
          // The head, plus the whole body when it is small and here already, in one write.
          const bodyFraming = head.framing;
          let first = upHead;
          let bodyInFirst = 0;
          let firstScratch: Uint8Array<ArrayBuffer> | null = null;
          if (
            this.#bodyState === BodyState.Unread && bodyFraming.kind === "length" &&
            sock.buffered >= bodyFraming.length &&
            upHead.length + bodyFraming.length <= SCRATCH_BYTES
          ) {
            const length = bodyFraming.length;
            firstScratch = front.takeScratch();
            firstScratch.set(upHead, 0);
            firstScratch.set(sock.buf.subarray(sock.start, sock.start + length), upHead.length);
            first = firstScratch.subarray(0, upHead.length + length);
            bodyInFirst = length;
          }
          try {
            const n = await up.conn.write(first);
            if (n < first.length) await up.writeAll(first.subarray(n));
          } catch (error) {
            if (this.#isGone) return false;
            const isReplayable = this.#bodyState === BodyState.Consumed || bodyInFirst > 0;
            if (isReused && !this.#isTimedOut && isReplayable) continue attempts;
            if (this.#isTimedOut) {
              return await this.#fail(head, target, started, gatewayTimeoutPage());
            }
            logUpstreamFailure(target, error);
            return await this.#fail(head, target, started, badGatewayPage());
          }
          if (firstScratch !== null) front.giveScratch(firstScratch);
          if (bodyInFirst > 0) {
            sock.start += bodyInFirst;
            this.#bodyState = BodyState.Consumed;
          }
          if (this.#bodyState === BodyState.Unread) {
            if (head.expectsContinue && sock.buffered === 0) {
              this.#sentContinue = true;
              if (!(await this.#writeClient(CONTINUE_BYTES))) return false;
            }
            this.#bodyState = BodyState.Pumping;
            pump = this.#pumpBody(up, head);
          }

          // The response head; interim 1xx responses go on to HTTP/1.1 clients.
          const response = this.#response;
          let hasResponseBytes = false;
          let interim = 0;
          for (;;) {
            if (up.buffered > 0 && scanResponseHead(up.unread(), head.method, response)) {
              if (response.status >= 200 || response.status === 101) break;
              const isOurs = response.status === 100 && this.#sentContinue;
              if (head.minorVersion === 1 && !isOurs && ++interim <= MAX_INTERIM_RESPONSES) {
                const bytes = up.buf.slice(up.start, up.start + response.headLength);
                if (!(await this.#writeClient(bytes))) return false;
              }
              up.start += response.headLength;
              continue;
            }
            await up.fill();
            if (up.isEnded) {
              if (this.#isGone) return false;
              // The pump may have changed it meanwhile, which the compiler cannot see.
              if ((this.#bodyState as BodyState) === BodyState.Broken && !sock.isEnded) {
                return await this.#failBadBody(head, target, started);
              }
              if (this.#isTimedOut) {
                return await this.#fail(head, target, started, gatewayTimeoutPage());
              }
              // A pooled connection that was closed meanwhile: nothing was seen, try another.
              if (isReused && !hasResponseBytes && pump === null && bodyInFirst === 0) {
                continue attempts;
              }
              logUpstreamFailure(target, new Error("connection closed before a response head"));
              return await this.#fail(head, target, started, badGatewayPage());
            }
            hasResponseBytes = true;
          }
          this.upstreamDeadline = 0;
          if (target !== null) s.onProxied?.(target, response.status, performance.now() - started);
          if (response.status === 101) {
            if (!isUpgrade) {
              logUpstreamFailure(target, new Error("101 Switching Protocols without an upgrade"));
              return await this.#failAfterHead(head, badGatewayPage());
            }
            await this.#splice(up);
            return false;
          }
          // The common case inline: head passed through untouched, body (if any) already here.
          const framing = response.framing;
          const isClientKept = head.isKeepAlive && !front.isShuttingDown;
          if (
            pump === null && !response.hasHopByHop && response.minorVersion === 1 &&
            head.minorVersion === 1 && isClientKept && target?.setCookie === undefined &&
            (framing === "none" ||
              (framing === "length" &&
                up.buffered >= response.headLength + response.contentLength))
          ) {
            const end = up.start +
              response.headLength + (framing === "length" ? response.contentLength : 0);
            this.#isResponseStarted = true;
            this.writeDeadline = front.deadline(s.sendTimeoutMs);
            try {
              const out = up.buf.subarray(up.start, end);
              const n = await sock.conn.write(out);
              if (n < out.length) await sock.writeAll(out.subarray(n));
            } catch {
              this.#onClientGone();
              return false;
            } finally {
              this.writeDeadline = 0;
            }
            up.start = end;
            isReusable = response.isKeepAlive && up.start === up.end;
            return !this.#isGone;
          }
          const result = await this.#relay(up, head, response, target, pump);
          isReusable = (result & Relayed.KeepUpstream) !== 0;
          return (result & Relayed.KeepClient) !== 0;
        } catch (error) {
          // A response the front cannot frame, or a socket failure on the way.
          if (!this.#isGone) logUpstreamFailure(target, error);
          if (this.#isResponseStarted || this.#isGone) return false;
          return await this.#fail(head, target, started, badGatewayPage());
        } finally {
          this.#isResponseStarted = false;
          this.#upstream = null;
          if (this.#bodyState === BodyState.Pumping) {
            // The exchange ended before the request body did: drop the rest for a moment.
            up.close();
            this.#lingerUntil = front.deadline(LINGER_MS);
            this.readDeadline = this.#lingerUntil;
          }
          if (pump !== null && (await pump) !== PumpResult.Done) isReusable = false;
          this.#lingerUntil = 0;
          front.pool.release(up, isReusable && !this.#isGone, front.nowMs);
        }
      }
      return await this.#fail(head, target, started, badGatewayPage());
    } finally {
      this.upstreamDeadline = 0;
      release?.();
    }
  }

  /** The resolver's wait for a restarted target, interruptible by the request timeout. */
  async #waitForRestart(target: Target): Promise<Target | undefined> {
    const timeout = new AbortController();
    this.#interrupt = () => timeout.abort();
    try {
      const signal = AbortSignal.any([this.#signal(), timeout.signal]);
      return await this.#s.resolver.waitForRestart(target, signal);
    } catch {
      return undefined;
    } finally {
      this.#interrupt = null;
    }
  }

  #tcpKey(port: number): string {
    if (port !== this.#lastPort) {
      this.#lastPort = port;
      this.#lastPortKey = tcpKey(port);
    }
    return this.#lastPortKey;
  }

  #takePooled(target: Target | null): UpstreamSocket | undefined {
    const pool = this.#front.pool;
    if (target === null) return pool.take(this.#s.fallbackKey);
    if (target.socketPath !== undefined && this.#s.preferUnix(target)) {
      return pool.take(`unix:${target.socketPath}`) ?? pool.take(this.#tcpKey(target.port));
    }
    return pool.take(this.#tcpKey(target.port));
  }

  /** Connects to the target (Unix socket first when preferred), interruptible by timeout/abort. */
  async #connect(target: Target | null): Promise<UpstreamSocket> {
    const pool = this.#front.pool;
    let connecting: Promise<UpstreamSocket>;
    if (target === null) {
      connecting = pool.connect(this.#s.fallback!, this.#s.fallbackKey);
    } else if (target.socketPath !== undefined && this.#s.preferUnix(target)) {
      const path = target.socketPath;
      connecting = pool.connect({ kind: "unix", path }, `unix:${path}`).catch(() =>
        pool.connect(tcpTarget(target.port), tcpKey(target.port))
      );
    } else {
      connecting = pool.connect(tcpTarget(target.port), tcpKey(target.port));
    }
    const interrupted = Promise.withResolvers<never>();
    interrupted.promise.catch(() => {});
    this.#interrupt = () => interrupted.reject(new Error("interrupted"));
    try {
      if (this.#isGone || this.#isTimedOut) this.#interrupt();
      return await Promise.race([connecting, interrupted.promise]);
    } catch (error) {
      // A connect that completes after the interrupt is closed right away.
      connecting.then((late) => pool.release(late, false), () => {});
      throw error;
    } finally {
      this.#interrupt = null;
    }
  }

  /** Streams the response head and body to the client and says which connections may stay. */
  async #relay(
    up: UpstreamSocket,
    head: RequestHead,
    response: ResponseHeadScan,
    target: Target | null,
    pump: Promise<PumpResult> | null,
  ): Promise<number> {
    const scratch = this.#front.takeScratch();
    try {
      return await this.#relayWith(up, head, response, target, pump, scratch);
    } finally {
      this.#front.giveScratch(scratch);
    }
  }

  async #relayWith(
    up: UpstreamSocket,
    head: RequestHead,
    response: ResponseHeadScan,
    target: Target | null,
    pump: Promise<PumpResult> | null,
    scratch: Uint8Array<ArrayBuffer>,
  ): Promise<number> {
    let framing = response.framing;
    if (response.status === 205 && framing === "length" && response.contentLength === 0) {
      framing = "none";
    }
    const isClient10 = head.minorVersion === 0;
    const isDechunk = isClient10 && framing === "chunked";
    const isClientKept = head.isKeepAlive && !this.#front.isShuttingDown &&
      framing !== "close" && !isDechunk;
    let isUpstreamKept = response.isKeepAlive && framing !== "close";
    let addLines = "";
    if (target?.setCookie !== undefined) addLines += `set-cookie: ${target.setCookie}\r\n`;
    if (!isClientKept) addLines += "connection: close\r\n";
    else if (isClient10) addLines += "connection: keep-alive\r\n";
    const isRewritten = addLines !== "" || response.minorVersion === 0 || isDechunk ||
      response.hasHopByHop;
    const headStart = up.start;
    const headBytes = isRewritten
      ? rewriteResponseHead(up.unread(), response.headLength, {
        dropHopByHop: true,
        dropTransferEncoding: isDechunk,
        addLines,
      })
      : null;
    up.start += response.headLength;
    this.#isResponseStarted = true;

    // Body bytes that came with the head go out in the same write.
    let take = 0;
    let decoder: ChunkedDecoder | null = null;
    let isDone = false;
    let remaining = 0;
    if (framing === "none") {
      isDone = true;
    } else if (framing === "length") {
      take = Math.min(response.contentLength, up.buffered);
      remaining = response.contentLength - take;
      isDone = remaining === 0;
    } else if (framing === "chunked") {
      decoder = new ChunkedDecoder();
      const fed = decoder.feed(up.unread());
      take = up.buffered - fed.leftover.length;
      isDone = fed.isDone;
      if (isDechunk) {
        if (!(await this.#writeClient(headBytes!))) return Relayed.Close;
        for (const piece of fed.data) if (!(await this.#writeClient(piece))) return Relayed.Close;
        up.start += take;
        take = -1;
      }
    } else {
      take = up.buffered;
    }
    if (take >= 0) {
      let out: Uint8Array;
      if (headBytes === null) {
        out = up.buf.subarray(headStart, up.start + take);
      } else if (headBytes.length + take <= scratch.length) {
        scratch.set(headBytes, 0);
        scratch.set(up.buf.subarray(up.start, up.start + take), headBytes.length);
        out = scratch.subarray(0, headBytes.length + take);
      } else {
        if (!(await this.#writeClient(headBytes))) return Relayed.Close;
        out = up.buf.subarray(up.start, up.start + take);
      }
      if (!(await this.#writeClient(out))) return Relayed.Close;
      up.start += take;
    }

    // The rest of the body, straight from the upstream socket to the client.
    while (!isDone) {
      const room = framing === "length" ? Math.min(remaining, scratch.length) : scratch.length;
      const n = await up.readInto(scratch.subarray(0, room));
      if (n === null) {
        if (framing === "close") break;
        // Cut short: the client sees the connection end without the framed end of the body.
        if (!this.#isGone) logUpstreamFailure(target, new Error("response body cut short"));
        return Relayed.Close;
      }
      let out = scratch.subarray(0, n);
      if (framing === "length") {
        remaining -= n;
        isDone = remaining === 0;
      } else if (decoder !== null) {
        const fed = decoder.feed(out);
        isDone = fed.isDone;
        if (fed.leftover.length > 0) isUpstreamKept = false;
        if (isDechunk) {
          for (const piece of fed.data) {
            if (!(await this.#writeClient(piece))) return Relayed.Close;
          }
          continue;
        }
        out = out.subarray(0, n - fed.leftover.length);
      }
      if (!(await this.#writeClient(out))) return Relayed.Close;
    }
    if (up.buffered > 0) isUpstreamKept = false;
    // Answered before the request body was all sent: neither connection can carry another.
    if (this.#bodyState === BodyState.Pumping) return Relayed.Close;
    if (pump !== null && (await pump) !== PumpResult.Done) return Relayed.Close;
    return (isClientKept && !this.#isGone ? Relayed.KeepClient : 0) |
      (isUpstreamKept ? Relayed.KeepUpstream : 0);
  }

  /**
   * Sends the request body to the upstream per its framing (chunked bodies are decoded strictly
   * and re-encoded in canonical chunks). Never rejects. When the upstream stops taking bytes, the
   * rest is read and dropped, so the response (often an early 413) still reaches the client.
   */
  async #pumpBodyBytes(up: UpstreamSocket, head: RequestHead): Promise<PumpResult> {
    const sock = this.sock;
    const scratch = this.#front.takeScratch();
    let isDropping = false;
    const send = async (bytes: Uint8Array): Promise<void> => {
      if (isDropping || bytes.length === 0) return;
      try {
        await up.writeAll(bytes);
      } catch {
        isDropping = true;
      }
    };
    const waitForBytes = async (): Promise<boolean> => {
      this.readDeadline = this.#lingerUntil !== 0
        ? this.#lingerUntil
        : this.#front.deadline(this.#s.bodyTimeoutMs);
      await sock.fill();
      this.readDeadline = 0;
      return !sock.isEnded;
    };
    try {
      const framing = head.framing;
      if (framing.kind === "length") {
        let remaining = framing.length;
        while (remaining > 0) {
          if (sock.buffered > 0) {
            const take = Math.min(remaining, sock.buffered);
            await send(sock.buf.subarray(sock.start, sock.start + take));
            sock.start += take;
            remaining -= take;
            continue;
          }
          if (sock.isReading) {
            if (!(await waitForBytes())) return this.#pumpClientGone();
            continue;
          }
          this.readDeadline = this.#lingerUntil !== 0
            ? this.#lingerUntil
            : this.#front.deadline(this.#s.bodyTimeoutMs);
          let n: number | null;
          try {
            n = await sock.readInto(scratch.subarray(0, Math.min(remaining, scratch.length)));
          } catch {
            n = null;
          }
          this.readDeadline = 0;
          if (n === null) return this.#pumpClientGone();
          await send(scratch.subarray(0, n));
          remaining -= n;
        }
      } else if (framing.kind === "chunked") {
        const decoder = new ChunkedBodyDecoder();
        for (;;) {
          if (sock.buffered > 0) {
            const fed = decoder.feed(sock.unread());
            let at = 0;
            for (const piece of fed.data) {
              let offset = 0;
              while (offset < piece.length) {
                if (scratch.length - at < 64) {
                  await send(scratch.subarray(0, at));
                  at = 0;
                }
                const size = Math.min(piece.length - offset, scratch.length - at - 32);
                at = encodeChunk(piece.subarray(offset, offset + size), scratch, at);
                offset += size;
              }
            }
            if (fed.isDone) {
              scratch.set(LAST_CHUNK, at);
              at += LAST_CHUNK.length;
            }
            await send(scratch.subarray(0, at));
            sock.start += fed.consumed;
            if (fed.isDone) break;
            continue;
          }
          if (!(await waitForBytes())) return this.#pumpClientGone();
        }
      }
      return isDropping ? PumpResult.Dropped : PumpResult.Done;
    } catch (error) {
      if (!(error instanceof RequestParseError)) throw error;
      // The upstream has part of a body that will never end properly: drop it and answer 400.
      up.close();
      return PumpResult.BadBody;
    } finally {
      this.readDeadline = 0;
      this.#front.giveScratch(scratch);
    }
  }

  #pumpClientGone(): PumpResult {
    this.#onClientGone();
    return PumpResult.ClientGone;
  }

  /** Runs the pump and records where the body stands when it ends. */
  async #pumpBody(up: UpstreamSocket, head: RequestHead): Promise<PumpResult> {
    let result: PumpResult;
    try {
      result = await this.#pumpBodyBytes(up, head);
    } catch (error) {
      // Never rejects: nothing awaits the pump until the response is read.
      log.error("Unexpected error sending a request body: {error}", { error: String(error) });
      up.close();
      result = PumpResult.BadBody;
    }
    this.#bodyState = result === PumpResult.Done || result === PumpResult.Dropped
      ? BodyState.Consumed
      : BodyState.Broken;
    this.sock.watch();
    return result;
  }

  /** After a 101: bytes both ways until either side ends; then both close. */
  async #splice(up: UpstreamSocket): Promise<void> {
    const scratch = new Uint8Array(16 * 1024);
    const sock = this.sock;
    this.#isResponseStarted = true;
    if (!(await this.#writeClient(up.unread()))) return;
    up.start = up.end;
    const toUpstream = async (): Promise<void> => {
      const buf = new Uint8Array(16 * 1024);
      try {
        for (;;) {
          if (sock.buffered > 0) {
            await up.writeAll(sock.unread());
            sock.start = sock.end;
            continue;
          }
          if (sock.isReading) {
            await sock.fill();
            if (sock.isEnded) return;
            continue;
          }
          const n = await sock.readInto(buf);
          if (n === null) return;
          await up.writeAll(buf.subarray(0, n));
        }
      } catch {
        // Either side went away.
      }
    };
    const toClient = async (): Promise<void> => {
      try {
        for (;;) {
          const n = await up.readInto(scratch);
          if (n === null) return;
          if (!(await this.#writeClient(scratch.subarray(0, n)))) return;
        }
      } catch {
        // Either side went away.
      }
    };
    const one = toUpstream();
    const other = toClient();
    await Promise.race([one, other]);
    up.close();
    this.forceClose();
    await Promise.all([one, other]);
  }

  /** Answers with `page` after the forwarding began (502/504). */
  async #fail(
    head: RequestHead,
    target: Target | null,
    started: number,
    page: ErrorPage,
  ): Promise<boolean> {
    this.upstreamDeadline = 0;
    if (target !== null) this.#s.onProxied?.(target, page.status, performance.now() - started);
    return await this.#failAfterHead(head, page);
  }

  async #failAfterHead(head: RequestHead, page: ErrorPage): Promise<boolean> {
    this.#upstream?.close();
    return await this.#answer(head, page);
  }

  /**
   * Answers `page` (an error). An unread body is skipped when it is all buffered; otherwise the
   * connection closes (after draining it for a moment, so the answer is not lost to a reset).
   */
  async #answer(head: RequestHead, page: ErrorPage): Promise<boolean> {
    if (this.#isGone) return false;
    const sock = this.sock;
    let canKeep = head.isKeepAlive && !this.#front.isShuttingDown;
    const framing = head.framing;
    if (this.#bodyState === BodyState.Unread) {
      if (framing.kind === "length" && sock.buffered >= framing.length) {
        sock.start += framing.length;
        this.#bodyState = BodyState.Consumed;
      } else {
        this.#needsLinger = true;
      }
    }
    // A body still being pumped is drained by the exchange before the connection closes.
    if (this.#bodyState !== BodyState.Consumed) canKeep = false;
    const bytes = serializeErrorPage(page, {
      isHead: head.method === "HEAD",
      isClose: !canKeep,
      isKeepAlive10: canKeep && head.minorVersion === 0,
    });
    return (await this.#writeClient(bytes)) && canKeep;
  }

  /** The chunked request body was malformed: 400, and the connection closes. */
  async #failBadBody(head: RequestHead, target: Target | null, started: number): Promise<boolean> {
    if (target !== null) this.#s.onProxied?.(target, 400, performance.now() - started);
    await this.#writeClient(
      serializeErrorPage(malformedRequestPage(), { isHead: head.method === "HEAD", isClose: true }),
    );
    return false;
  }

  /** Writes to the client; false when it is gone (then everything for it stops). */
  #writeClient(bytes: Uint8Array): Promise<boolean> {
    if (this.#isGone) return RESOLVED_FALSE;
    this.writeDeadline = this.#front.deadline(this.#s.sendTimeoutMs);
    return this.sock.writeAll(bytes).then(this.#onClientWritten, this.#onClientWriteFailed);
  }

  // Bound once: every response goes through these.
  readonly #onClientWritten = (): boolean => {
    this.writeDeadline = 0;
    return true;
  };

  readonly #onClientWriteFailed = (): boolean => {
    this.writeDeadline = 0;
    this.#onClientGone();
    return false;
  };

  /**
   * Before closing a connection whose request body was not read: stop sending, then read and
   * drop what the client still sends for a moment, so the answer is not lost to a reset.
   */
  async #linger(): Promise<void> {
    const sock = this.sock;
    this.readDeadline = this.#front.deadline(LINGER_MS);
    try {
      await (sock.conn as Deno.TcpConn).closeWrite();
      let dropped = 0;
      while (dropped < 1024 * 1024) {
        await sock.fill();
        if (sock.isEnded) break;
        dropped += sock.buffered;
        sock.start = sock.end;
      }
    } catch {
      // The client is gone already.
    } finally {
      this.readDeadline = 0;
    }
  }
}

function isZeroLength(head: RequestHead): boolean {
  return head.framing.kind === "length" && head.framing.length === 0;
}

function cookieOf(head: RequestHead): string | null {
  let cookie: string | null = null;
  for (const field of head.headers) {
    if (field.name === "cookie") {
      cookie = cookie === null ? field.value : `${cookie}; ${field.value}`;
    }
  }
  return cookie;
}

function tcpKey(port: number): string {
  return `127.0.0.1:${port}`;
}

function tcpTarget(port: number): UpstreamTarget {
  return { kind: "tcp", hostname: "127.0.0.1", port };
}

function logUpstreamFailure(target: Target | null, error: unknown): void {
  log.warn("Upstream {key} failed: {error}", {
    key: target === null ? "(tenement API)" : `${target.service}:${target.id}`,
    error: error instanceof Error ? error.message : String(error),
  });
}
