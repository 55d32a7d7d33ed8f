/**
 * Keep-alive connections from the raw front to instances (TCP or Unix socket): a LIFO list of
 * idle sockets per target, each with a read left pending so that an instance closing an idle
 * connection (or sending stray bytes) drops it from the pool before a request is lost on it.
 * Edge: socket I/O; no HTTP.
 * @module
 */
import { BufferedSocket } from "./buffered_socket.ts";

/** Where an instance listens. */
export type UpstreamTarget =
  | { readonly kind: "tcp"; readonly hostname: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

/** A socket to one upstream target. */
export class UpstreamSocket extends BufferedSocket {
  /** Pool key of its target. */
  readonly key: string;
  isIdle = false;
  /** `performance.now()` when parked. */
  parkedAtMs = 0;
  /** Drops it from the pool (set once by the pool; a read while idle means it is unusable). */
  dropFromPool: (() => void) | null = null;

  constructor(key: string, conn: Deno.Conn) {
    super(conn, { initialBytes: 16 * 1024, maxBytes: 128 * 1024 });
    this.key = key;
  }
}

/** Options for {@linkcode UpstreamPool}. */
export interface UpstreamPoolOptions {
  /** Idle connections kept per target; extra ones are closed. @default {64} */
  readonly maxIdlePerTarget?: number;
  /** Idle connections older than this are closed by `sweep()`. @default {60000} */
  readonly idleTimeoutMs?: number;
}

/**
 * The pool key of a target.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(targetKey({ kind: "tcp", hostname: "127.0.0.1", port: 80 }), "127.0.0.1:80");
 * equal(targetKey({ kind: "unix", path: "/run/a.sock" }), "unix:/run/a.sock");
 * ```
 */
export function targetKey(target: UpstreamTarget): string {
  if (target.kind === "unix") return `unix:${target.path}`;
  const host = target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname;
  return `${host}:${target.port}`;
}

/** Keep-alive connections to upstream targets. */
export class UpstreamPool {
  readonly #maxIdle: number;
  readonly #idleTimeoutMs: number;
  readonly #idle = new Map<string, UpstreamSocket[]>();
  /**
   * Every socket not closed through the pool yet, idle or in use, for `close()`. Changed once per
   * connection, not per request: a set that gains and loses an entry on every request makes V8
   * reallocate its table in the old generation every few requests once the set is long-lived.
   */
  readonly #open = new Set<UpstreamSocket>();
  #isClosed = false;

  constructor(options: UpstreamPoolOptions = {}) {
    this.#maxIdle = options.maxIdlePerTarget ?? 64;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  }

  /** Idle connections held now (tests and metrics). */
  get idleCount(): number {
    let count = 0;
    for (const list of this.#idle.values()) count += list.length;
    return count;
  }

  /** Takes the most recently parked connection for `key` (LIFO keeps the warmest ones busy). */
  take(key: string): UpstreamSocket | undefined {
    const list = this.#idle.get(key);
    if (list === undefined) return undefined;
    // An emptied list stays in the map (see `#open` on why sets and maps are not churned).
    const sock = list.pop();
    if (sock === undefined) return undefined;
    sock.isIdle = false;
    sock.onEnd = null;
    sock.onData = null;
    return sock;
  }

  /**
   * Opens a new connection to `target`; `key` is its pool key.
   *
   * @throws the `Deno.connect` error (refused, not found, …).
   */
  async connect(target: UpstreamTarget, key: string): Promise<UpstreamSocket> {
    if (this.#isClosed) throw new Deno.errors.ConnectionRefused("the upstream pool is closed");
    let conn: Deno.Conn;
    if (target.kind === "tcp") {
      const tcp = await Deno.connect({ hostname: target.hostname, port: target.port });
      tcp.setNoDelay(true);
      conn = tcp;
    } else {
      conn = await Deno.connect({ transport: "unix", path: target.path });
    }
    if (this.#isClosed) {
      conn.close();
      throw new Deno.errors.ConnectionRefused("the upstream pool is closed");
    }
    const sock = new UpstreamSocket(key, conn);
    this.#open.add(sock);
    return sock;
  }

  /**
   * Hands a connection back after an exchange: parked for reuse, or closed. `nowMs` (on the
   * `performance.now()` clock, possibly coarse) dates the parking for the idle timeout.
   */
  release(sock: UpstreamSocket, isReusable: boolean, nowMs = performance.now()): void {
    if (
      !isReusable || this.#isClosed || sock.isEnded || sock.buffered > 0 || sock.isReading ||
      this.#maxIdle <= 0
    ) {
      this.#close(sock);
      return;
    }
    let list = this.#idle.get(sock.key);
    if (list === undefined) {
      list = [];
      this.#idle.set(sock.key, list);
    }
    if (list.length >= this.#maxIdle) {
      this.#close(sock);
      return;
    }
    sock.isIdle = true;
    sock.parkedAtMs = nowMs;
    sock.start = 0;
    sock.end = 0;
    sock.dropFromPool ??= () => this.#drop(sock);
    sock.onEnd = sock.dropFromPool;
    sock.onData = sock.dropFromPool;
    list.push(sock);
    sock.watch();
  }

  /** Closes idle connections to `target` (its instance stopped). */
  closeTarget(target: UpstreamTarget): void {
    const key = targetKey(target);
    const list = this.#idle.get(key);
    this.#idle.delete(key);
    for (const sock of list ?? []) this.#close(sock);
  }

  /** Closes idle connections parked for longer than the idle timeout. */
  sweep(nowMs: number): void {
    for (const [key, list] of this.#idle) {
      // Oldest first: the list is LIFO, so stale ones sit at the front.
      let stale = 0;
      while (stale < list.length && nowMs - list[stale]!.parkedAtMs >= this.#idleTimeoutMs) {
        this.#close(list[stale]!);
        stale++;
      }
      if (stale > 0) list.splice(0, stale);
      if (list.length === 0) this.#idle.delete(key);
    }
  }

  /** Closes every connection, idle or active. */
  close(): void {
    this.#isClosed = true;
    for (const list of this.#idle.values()) for (const sock of list) sock.close();
    this.#idle.clear();
    for (const sock of this.#open) sock.close();
    this.#open.clear();
  }

  #drop(sock: UpstreamSocket): void {
    if (!sock.isIdle) return;
    sock.isIdle = false;
    const list = this.#idle.get(sock.key);
    const index = list?.indexOf(sock) ?? -1;
    if (list !== undefined && index !== -1) {
      list.splice(index, 1);
    }
    this.#close(sock);
  }

  #close(sock: UpstreamSocket): void {
    this.#open.delete(sock);
    sock.close();
  }
}
