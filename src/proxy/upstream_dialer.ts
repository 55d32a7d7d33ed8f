/**
 * Which upstream connection a request goes out on: a pooled keep-alive connection to its target,
 * else a new one (over the instance's Unix socket first when preferred, falling back to TCP).
 * Requests for tenement's own hosts (no target) go to the front's fallback. Pool keys come from
 * {@linkcode targetKey}, memoized per client connection because keep-alive requests usually
 * repeat their target. Edge: connects through the pool.
 * @module
 */
import type { FrontSettings } from "./front_settings.ts";
import type { Target } from "./target.ts";
import {
  targetKey,
  type UpstreamPool,
  type UpstreamSocket,
  type UpstreamTarget,
} from "./upstream_pool.ts";

/** Finds or opens upstream connections for one client connection's requests. */
export class UpstreamDialer {
  readonly #pool: UpstreamPool;
  readonly #settings: FrontSettings;
  // Memos of the last pool keys: building them is a string allocation per request otherwise.
  #lastPort = -1;
  #lastTcpKey = "";
  #lastSocketPath = "";
  #lastUnixKey = "";

  constructor(pool: UpstreamPool, settings: FrontSettings) {
    this.#pool = pool;
    this.#settings = settings;
  }

  /** An idle pooled connection to `target` (`null`: the fallback), if there is one. */
  takePooled(target: Target | null): UpstreamSocket | undefined {
    const pool = this.#pool;
    if (target === null) return pool.take(this.#settings.fallbackKey);
    if (target.socketPath !== undefined && this.#settings.preferUnix(target)) {
      return pool.take(this.#unixKey(target.socketPath)) ?? pool.take(this.#tcpKey(target.port));
    }
    return pool.take(this.#tcpKey(target.port));
  }

  /**
   * Opens a new connection to `target` (`null`: the fallback, which the front has whenever it
   * routes a request there); over its Unix socket first when preferred, TCP when that fails.
   *
   * @throws the connect error (refused, not found, …).
   */
  open(target: Target | null): Promise<UpstreamSocket> {
    const pool = this.#pool;
    if (target === null) return pool.connect(this.#settings.fallback!, this.#settings.fallbackKey);
    const tcp = tcpTarget(target.port);
    if (target.socketPath !== undefined && this.#settings.preferUnix(target)) {
      const path = target.socketPath;
      return pool.connect({ kind: "unix", path }, this.#unixKey(path)).catch(() =>
        pool.connect(tcp, this.#tcpKey(target.port))
      );
    }
    return pool.connect(tcp, this.#tcpKey(target.port));
  }

  #tcpKey(port: number): string {
    if (port !== this.#lastPort) {
      this.#lastPort = port;
      this.#lastTcpKey = targetKey(tcpTarget(port));
    }
    return this.#lastTcpKey;
  }

  #unixKey(path: string): string {
    if (path !== this.#lastSocketPath) {
      this.#lastSocketPath = path;
      this.#lastUnixKey = targetKey({ kind: "unix", path });
    }
    return this.#lastUnixKey;
  }
}

/** Where an instance listens over TCP: its port on the loopback address. */
export function tcpTarget(port: number): UpstreamTarget {
  return { kind: "tcp", hostname: "127.0.0.1", port };
}
