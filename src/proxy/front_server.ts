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
 * complete. Timeouts: a new connection must send its first byte within `firstByteTimeoutMs`, a
 * request head must arrive within `headTimeoutMs`, an idle keep-alive connection is closed after
 * `idleTimeoutMs`, a request body or client write that stalls for
 * `bodyTimeoutMs`/`sendTimeoutMs` ends the connection, and a response head that takes longer than
 * the target's `requestTimeoutMs` is a 504. Deadlines are checked by one sweep timer, not one
 * timer per request.
 *
 * HTTPS: with `tls` set the front accepts on a TLS listener (`tls_listener.ts`) whose certificate
 * is chosen per handshake, and serves exactly as over TCP; the handshake completes before the
 * first request is read and falls under the first-byte timeout (and the head timeout, if shorter).
 * `reloadCertificates()` replaces the listener, so several accept loops may run for a moment (one
 * per live listener).
 *
 * Client addresses: `X-Forwarded-For` is believed only from peers in `trustedProxies` (decided
 * once per connection). From any other peer the list is replaced by the peer's address, on
 * requests to instances and to tenement's own hosts alike; from a trusted peer it is kept and the
 * peer appended for instances, while tenement's own hosts get the client it names (the rightmost
 * untrusted entry). Limits: `maxConnections` in all and `maxConnectionsPerClient` per peer
 * address (IPv6: per /64; trusted proxies are exempt, as they carry many clients); connections
 * beyond them are closed on accept.
 *
 * This file is the listener: settings, accepting and counting connections, the deadline sweep
 * and graceful shutdown. Each connection is served by `client_connection.ts`. Edge: sockets,
 * timers and logging.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { AddressMatcher, clientKeyOf } from "../core/cidr.ts";
import type { SniResolver } from "../tls/tls_types.ts";
import type { Target, TargetResolver } from "./target.ts";
import { ClientConnection } from "./client_connection.ts";
import { type FrontContext, type FrontSettings, SCRATCH_BYTES } from "./front_settings.ts";
import type { UpstreamTarget } from "./upstream_pool.ts";
import { targetKey, UpstreamPool } from "./upstream_pool.ts";
import { listenTlsSwappable, type SwappableTlsListener } from "./tls_listener.ts";

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
   * the same raw way with `X-Forwarded-For` set to the client address alone (see
   * `trustedProxies`). Without it they get 404.
   */
  readonly fallback?: UpstreamTarget;
  /** Time allowed for the fallback's response head. @default {600000} */
  readonly fallbackTimeoutMs?: number;
  /**
   * Serve HTTPS: each handshake's certificate comes from `resolver` (by server name). Without it
   * the front serves plain HTTP.
   */
  readonly tls?: FrontTlsOptions;
  /** Scheme clients use, for `X-Forwarded-Proto`. @default {"https" with `tls`, else "http"} */
  readonly proto?: "http" | "https";
  /**
   * Peers (IPv4/IPv6 addresses and CIDR ranges, valid per `cidrProblem`) whose
   * `X-Forwarded-For` is believed: it is kept (the peer appended) on requests to instances, and
   * names the client for tenement's own hosts. Any other peer's list is replaced by its address.
   * @default {[]}
   */
  readonly trustedProxies?: readonly string[];
  /** Called once per proxied request when its status is known (response head or error). */
  readonly onProxied?: (target: Target, status: number, durationMs: number) => void;
  /**
   * Whether to reach `target` over its Unix socket (`target.socketPath`); when that connect
   * fails, TCP is used. @default {() => false}
   */
  readonly preferUnix?: (target: Target) => boolean;
  /** Time allowed for a whole request head, from its first byte. @default {30000} */
  readonly headTimeoutMs?: number;
  /**
   * A new connection that sends nothing for this long is closed; with TLS, the handshake and
   * then the first request head's first byte each get this long. @default {10000}
   */
  readonly firstByteTimeoutMs?: number;
  /** A keep-alive connection without a request for this long is closed. @default {75000} */
  readonly idleTimeoutMs?: number;
  /** A request body read that makes no progress for this long ends the connection. @default {60000} */
  readonly bodyTimeoutMs?: number;
  /** A write to the client that makes no progress for this long ends the connection. @default {60000} */
  readonly sendTimeoutMs?: number;
  /** Client connections beyond this are closed on accept. @default {10000} */
  readonly maxConnections?: number;
  /**
   * Client connections one peer address may hold; more are closed on accept. Trusted proxies
   * are exempt. 0: no limit. @default {256}
   */
  readonly maxConnectionsPerClient?: number;
  /** Idle keep-alive connections kept per upstream target. @default {64} */
  readonly maxIdlePerUpstream?: number;
  /** Idle upstream connections are closed after this long. @default {60000} */
  readonly upstreamIdleTimeoutMs?: number;
  /** Called once listening. */
  readonly onListen?: (addr: Deno.NetAddr) => void;
}

/** HTTPS options of {@linkcode startFrontServer}. */
export interface FrontTlsOptions {
  readonly resolver: SniResolver;
  /**
   * Server names one TLS listener resolves before it is replaced (the runtime caches every
   * answer per listener). @default {10000}
   */
  readonly maxServerNames?: number;
}

/** Options for {@linkcode FrontServer.shutdown}. */
export interface FrontShutdownOptions {
  /** Time in-flight exchanges get before their connections are closed. @default {10000} */
  readonly graceMs?: number;
}

/** A running front. Disposing it shuts it down gracefully. */
export interface FrontServer extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  /** Client connections open now. */
  readonly openConnections: number;
  /**
   * Stops accepting, closes idle connections, lets in-flight exchanges finish (closing their
   * connections afterwards) for up to `graceMs`, then closes everything. Idempotent.
   */
  shutdown(options?: FrontShutdownOptions): Promise<void>;
  /** Closes pooled idle connections to `target` (its instance stopped). */
  closeUpstream(target: UpstreamTarget): void;
  /**
   * Makes new TLS handshakes ask the certificate resolver again (certificates changed): the TLS
   * listener is replaced on the same address; open connections keep going. No-op for plain HTTP.
   */
  reloadCertificates(): Promise<void>;
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

const MAX_POOLED_SCRATCH = 64;
/** Interval of the deadline sweep, and so the resolution of the coarse clock. */
const SWEEP_MS = 100;

/** The listener: accepts client connections, runs them, sweeps deadlines, shuts down. */
class Front implements FrontServer, FrontContext {
  readonly addr: Deno.NetAddr;
  readonly settings: FrontSettings;
  readonly pool: UpstreamPool;
  /** The plain listener, or null when serving HTTPS. */
  readonly #listener: Deno.TcpListener | null = null;
  readonly #tlsListener: SwappableTlsListener | null = null;
  readonly #maxConnections: number;
  /** 0: no limit. */
  readonly #maxPerClient: number;
  readonly #conns = new Set<ClientConnection>();
  /** Open connections per peer address (untrusted peers only), for the per-client limit. */
  readonly #perClient = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #scratch: Uint8Array<ArrayBuffer>[] = [];
  readonly #acceptLoop: Promise<void> = Promise.resolve();
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
      proto: options.proto ?? (options.tls === undefined ? "http" : "https"),
      trustedProxies: new AddressMatcher(options.trustedProxies ?? []),
      onProxied: options.onProxied,
      preferUnix: options.preferUnix ?? (() => false),
      headTimeoutMs: options.headTimeoutMs ?? 30_000,
      firstByteTimeoutMs: options.firstByteTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 75_000,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 60_000,
      sendTimeoutMs: options.sendTimeoutMs ?? 60_000,
    };
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.#maxPerClient = options.maxConnectionsPerClient ?? 256;
    this.pool = new UpstreamPool({
      maxIdlePerTarget: options.maxIdlePerUpstream ?? 64,
      idleTimeoutMs: options.upstreamIdleTimeoutMs ?? 60_000,
    });
    const hostname = options.hostname ?? "0.0.0.0";
    if (options.tls === undefined) {
      this.#listener = Deno.listen({ hostname, port: options.port, transport: "tcp" });
      this.addr = this.#listener.addr;
      this.#acceptLoop = this.#accept(this.#listener);
    } else {
      this.#tlsListener = listenTlsSwappable({
        hostname,
        port: options.port,
        resolver: options.tls.resolver,
        serve: (listener) => this.#accept(listener),
        ...(options.tls.maxServerNames === undefined
          ? {}
          : { maxServerNames: options.tls.maxServerNames }),
      });
      this.addr = this.#tlsListener.addr;
    }
    options.onListen?.(this.addr);
  }

  get openConnections(): number {
    return this.#conns.size;
  }

  reloadCertificates(): Promise<void> {
    return this.#tlsListener?.swap() ?? Promise.resolve();
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
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    await this.#acceptLoop;
    await this.#tlsListener?.close();
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

  /** Accepts on `listener` until it is closed (shutdown, or a TLS listener was replaced). */
  async #accept(listener: Deno.TcpListener | Deno.TlsListener): Promise<void> {
    const isTls = this.#listener === null; // The TLS listener calls this from its constructor.
    for (;;) {
      let conn: Deno.TcpConn | Deno.TlsConn;
      try {
        conn = await listener.accept();
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
      const peerIp = conn.remoteAddr.hostname;
      const isTrustedPeer = this.settings.trustedProxies.matches(peerIp);
      const isCounted = this.#maxPerClient > 0 && !isTrustedPeer;
      // IPv6 peers count by their /64 (a host there has 2^64 addresses to pick from).
      const peer = isCounted ? clientKeyOf(peerIp) : peerIp;
      if (isCounted) {
        const open = this.#perClient.get(peer) ?? 0;
        if (open >= this.#maxPerClient) {
          conn.close();
          continue;
        }
        this.#perClient.set(peer, open + 1);
      }
      if (!isTls) {
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          // The peer is already gone; the first read says so.
        }
      }
      const client = new ClientConnection(this, conn, isTrustedPeer);
      this.#conns.add(client);
      if (this.#sweeper === undefined) {
        this.nowMs = performance.now();
        this.#sweeper = setInterval(this.#sweep, SWEEP_MS);
      }
      const served = isTls ? this.#handshakeThenRun(client, conn as Deno.TlsConn) : client.run();
      const task: Promise<void> = served.finally(() => {
        this.#conns.delete(client);
        this.#tasks.delete(task);
        if (isCounted) this.#releaseClient(peer);
      });
      this.#tasks.add(task);
    }
  }

  #releaseClient(peer: string): void {
    const open = this.#perClient.get(peer) ?? 1;
    if (open <= 1) this.#perClient.delete(peer);
    else this.#perClient.set(peer, open - 1);
  }

  /**
   * Completes the TLS handshake before the first request, within the first-byte timeout (a
   * client that never finishes it is closed by the sweep); meanwhile the connection counts as
   * idle, so a shutdown closes it at once. A failed handshake (unknown server name, not TLS) just ends it.
   * `TlsConn` has no `setNoDelay`; the runtime does not set `TCP_NODELAY` on its sockets.
   *
   * Deno 2.9 limitation: closing a `TlsConn` whose handshake has not begun frees everything on
   * this side, but the runtime's handshake task keeps the socket open until the client sends
   * something or leaves, so a silent client is not disconnected (it holds one descriptor).
   */
  async #handshakeThenRun(client: ClientConnection, conn: Deno.TlsConn): Promise<void> {
    client.isIdle = true;
    const settings = this.settings;
    client.readDeadline = this.deadline(
      Math.min(settings.firstByteTimeoutMs, settings.headTimeoutMs),
    );
    try {
      await conn.handshake();
    } catch {
      client.readDeadline = 0;
      client.isIdle = false;
      client.sock.close();
      return;
    }
    await client.run();
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
