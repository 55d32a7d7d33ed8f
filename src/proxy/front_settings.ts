/**
 * What a client connection (`client_connection.ts`) is given by the listener that accepted it
 * (`front_server.ts`): the front's settings with defaults applied, and the shared state of the
 * front (upstream pool, coarse clock, scratch buffers). Types only, plus the scratch size.
 * @module
 */
import type { AddressMatcher } from "../core/cidr.ts";
import type { Target, TargetResolver } from "./target.ts";
import type { UpstreamPool, UpstreamTarget } from "./upstream_pool.ts";

/** The front's settings, defaults applied. */
export interface FrontSettings {
  readonly domain: string;
  readonly resolver: TargetResolver;
  /** Where requests for tenement's own hosts go; none: they get 404. */
  readonly fallback: UpstreamTarget | undefined;
  /** Pool key of `fallback` ("" without one). */
  readonly fallbackKey: string;
  /** Host header sent to the fallback when the request has none. */
  readonly fallbackHost: string;
  readonly fallbackTimeoutMs: number;
  readonly proto: "http" | "https";
  /** Peers whose `X-Forwarded-For` is believed (reverse proxies in front of tenement). */
  readonly trustedProxies: AddressMatcher;
  readonly onProxied: ((target: Target, status: number, durationMs: number) => void) | undefined;
  readonly preferUnix: (target: Target) => boolean;
  readonly headTimeoutMs: number;
  /** Wait for the first byte of a new connection (after a TLS handshake: of its first request). */
  readonly firstByteTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly sendTimeoutMs: number;
}

/** What a client connection needs from the front that accepted it. */
export interface FrontContext {
  readonly settings: FrontSettings;
  readonly pool: UpstreamPool;
  readonly isShuttingDown: boolean;
  /** The front's coarse clock, in ms (see {@linkcode FrontContext.deadline}). */
  readonly nowMs: number;
  /** A deadline `ms` from now on the coarse clock, never early. */
  deadline(ms: number): number;
  /** A scratch buffer of {@linkcode SCRATCH_BYTES} from the front's free list. */
  takeScratch(): Uint8Array<ArrayBuffer>;
  /** Hands a scratch buffer back to the free list. */
  giveScratch(buf: Uint8Array<ArrayBuffer>): void;
}

/** Size of the front's scratch buffers: bodies in flight and combined writes. */
export const SCRATCH_BYTES = 64 * 1024;
