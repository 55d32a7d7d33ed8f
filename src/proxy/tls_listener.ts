/**
 * The front's HTTPS listener: `Deno.listenTls` with a certificate chosen per handshake by the
 * certificate manager (`SniResolver`), through the runtime's `Symbol.for("unstableSniResolver")`
 * option (Deno 2.9; docs/tls-research.md §1). Deno caches each answer, a refusal included, per
 * server name for the listener's lifetime and offers no way to forget one, so new certificates
 * take effect by replacing the listener: `swap()` binds a new one on the same address
 * (`SO_REUSEPORT`), starts accepting on it, then closes the old one; accepted connections keep
 * going. Every resolver call adds one cache entry, so after `maxServerNames` calls the listener
 * swaps itself: clients sending random server names cannot grow memory without bound.
 *
 * It binds and accepts; what happens to a connection is the caller's `serve` loop. Edge: sockets.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { SniResolver } from "../tls/tls_types.ts";

const log = getLogger(["tenement", "proxy"]);

/** The runtime's option key for a per-handshake certificate callback (Deno 2.9). */
const SNI_RESOLVER = Symbol.for("unstableSniResolver");

/** Options for {@linkcode listenTlsSwappable}. */
export interface TlsListenerOptions {
  readonly hostname: string;
  /** 0 picks a free port (kept across swaps). */
  readonly port: number;
  readonly resolver: SniResolver;
  /**
   * Accepts on one bound listener until it is closed (accept throws `BadResource`). Called once
   * per listener: at start and after every swap; its promise is awaited on close.
   */
  readonly serve: (listener: Deno.TlsListener) => Promise<void>;
  /** Server names resolved by one listener before it is replaced. @default {10000} */
  readonly maxServerNames?: number;
}

/** A TLS listener that can be replaced under its clients. */
export interface SwappableTlsListener {
  readonly addr: Deno.NetAddr;
  /**
   * Binds a new listener on the same address, starts serving it, then closes the old one, so
   * new handshakes ask the resolver again. Concurrent calls are serialised; no-op once closed.
   */
  swap(): Promise<void>;
  /** Closes the live listener and waits for every `serve` loop to return. Idempotent. */
  close(): Promise<void>;
}

/**
 * Whether the runtime supports a certificate callback per handshake. Deno exposes the option's
 * symbol as `Deno[Deno.internal].resolverSymbol`; where that holder is out of reach the answer is
 * "unknown" and binding decides.
 */
function sniResolverSupport(): "yes" | "no" | "unknown" {
  const internal = (Deno as unknown as { internal?: unknown }).internal;
  if (typeof internal !== "symbol") return "unknown";
  const holder = (Deno as unknown as Record<symbol, unknown>)[internal];
  if (typeof holder !== "object" || holder === null) return "unknown";
  return (holder as { resolverSymbol?: unknown }).resolverSymbol === SNI_RESOLVER ? "yes" : "no";
}

function unsupported(cause?: unknown): Error {
  return new Error(
    `Cannot listen for HTTPS: Deno ${Deno.version.deno} does not support choosing a certificate ` +
      `per handshake (Symbol.for("unstableSniResolver") in Deno.listenTls options); ` +
      `tenement needs Deno 2.9`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Binds a TLS listener whose certificates come from `options.resolver` and starts serving it.
 *
 * @throws {Error} when the runtime cannot pick certificates per handshake, or the address is
 *   taken (`Deno.errors.AddrInUse`, also when another process shares it with `SO_REUSEPORT`).
 */
export function listenTlsSwappable(options: TlsListenerOptions): SwappableTlsListener {
  if (sniResolverSupport() === "no") throw unsupported();
  return new TlsListenerSet(options);
}

class TlsListenerSet implements SwappableTlsListener {
  readonly addr: Deno.NetAddr;
  readonly #options: TlsListenerOptions;
  readonly #maxServerNames: number;
  #live: Deno.TlsListener;
  #liveLoop: Promise<void> = Promise.resolve();
  readonly #loops = new Set<Promise<void>>();
  #swapping: Promise<void> = Promise.resolve();
  #isSwapQueued = false;
  #isClosed = false;

  constructor(options: TlsListenerOptions) {
    this.#options = options;
    this.#maxServerNames = options.maxServerNames ?? 10_000;
    // SO_REUSEPORT lets a second process bind the same port silently (same user), which would
    // split traffic with, say, a second daemon instead of failing. A plain bind first claims the
    // address exclusively for a moment: a taken port fails here, as it does for the plain front.
    const probe = Deno.listen({ hostname: options.hostname, port: options.port });
    const port = probe.addr.port;
    probe.close();
    this.#live = this.#bind(port);
    this.addr = this.#live.addr;
    this.#liveLoop = this.#start(this.#live);
  }

  swap(): Promise<void> {
    this.#swapping = this.#swapping.then(() => this.#swapNow());
    return this.#swapping;
  }

  async close(): Promise<void> {
    if (!this.#isClosed) {
      this.#isClosed = true;
      await this.#swapping;
      closeQuietly(this.#live);
    }
    while (this.#loops.size > 0) await Promise.all(this.#loops);
  }

  async #swapNow(): Promise<void> {
    this.#isSwapQueued = false;
    if (this.#isClosed) return;
    let next: Deno.TlsListener;
    try {
      next = this.#bind(this.addr.port);
    } catch (error) {
      // Keep serving with the old certificates rather than stop serving.
      log.error("Cannot replace the HTTPS listener on port {port}: {error}", {
        port: this.addr.port,
        error: String(error),
      });
      return;
    }
    const old = this.#live;
    const oldLoop = this.#liveLoop;
    this.#live = next;
    this.#liveLoop = this.#start(next);
    // Connections still in the old listener's accept queue are reset (SO_REUSEPORT behaviour):
    // rare, and why swaps happen only when certificates change. The socket is released once
    // its pending accept is cancelled, so the swap is over when the old loop has returned:
    // from then on every new connection reaches the new listener.
    closeQuietly(old);
    await oldLoop;
  }

  #bind(port: number): Deno.TlsListener {
    let resolved = 0;
    const resolve = (serverName: string): Promise<{ cert: string; key: string }> => {
      // Each call is a cache entry for this listener's lifetime: replace it before they pile up.
      if (++resolved === this.#maxServerNames) this.#queueSwap();
      return this.#options.resolver.resolve(serverName.toLowerCase());
    };
    const options = {
      hostname: this.#options.hostname,
      port,
      transport: "tcp",
      reusePort: true,
      alpnProtocols: ["http/1.1"],
      [SNI_RESOLVER]: resolve,
    } as unknown as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem;
    try {
      return Deno.listenTls(options);
    } catch (error) {
      // Without the symbol the runtime asks for a key and certificate up front.
      if (error instanceof TypeError && /key and certificate/i.test(error.message)) {
        throw unsupported(error);
      }
      throw error;
    }
  }

  #queueSwap(): void {
    if (this.#isSwapQueued || this.#isClosed) return;
    this.#isSwapQueued = true;
    log.info("Replacing the HTTPS listener after {count} server names", {
      count: this.#maxServerNames,
    });
    void this.swap();
  }

  #start(listener: Deno.TlsListener): Promise<void> {
    const loop: Promise<void> = this.#options.serve(listener)
      .catch((error: unknown) => {
        log.error("HTTPS accept loop failed: {error}", { error: String(error) });
      })
      .finally(() => this.#loops.delete(loop));
    this.#loops.add(loop);
    return loop;
  }
}

function closeQuietly(listener: Deno.TlsListener): void {
  try {
    listener.close();
  } catch {
    // Already closed.
  }
}
