/**
 * Socket reads for the front's hot path. `Deno.Conn.read()` records every pending read in a
 * per-connection `Set` (for `unref()`), adding and deleting an entry per read. Once a connection
 * has lived through a couple of garbage collections (any pooled upstream connection, any client
 * that pauses), V8 reallocates that set's hash table in the old generation every few reads, so a
 * busy proxy fills the old generation with garbage and pays for it with incremental marking
 * steps of several milliseconds: the proxy's p99. Reading by resource id through the runtime's
 * own op wrapper (what `Conn.read()` calls after the bookkeeping) avoids both that and an async
 * frame per read. `bench/proxy_vs_nginx.ts` measures the difference.
 *
 * The wrapper is not public API, so it is looked up once and checked; when it is missing or
 * looks different, or when `TENEMENT_PLAIN_SOCKET_READS=1` is set, reads go through
 * `Deno.Conn.read()`: slower under load, otherwise the same. Edge: runtime internals.
 * @module
 */

/** Reads into `buf` by resource id: the byte count, 0 at the end of the stream. */
export type RidRead = (rid: number, buf: Uint8Array) => Promise<number>;

/** The runtime's read op wrapper and the key of a connection's resource id. */
interface RuntimeCore {
  readonly read: RidRead;
  readonly internalRidSymbol: symbol;
}

function findRuntimeCore(): RuntimeCore | null {
  try {
    if (Deno.env.get("TENEMENT_PLAIN_SOCKET_READS") === "1") return null;
  } catch {
    // No env permission: use the runtime path if it is there.
  }
  const internal = (Deno as unknown as { internal?: unknown }).internal;
  if (typeof internal !== "symbol") return null;
  const holder = (Deno as unknown as Record<symbol, unknown>)[internal];
  if (typeof holder !== "object" || holder === null) return null;
  const core = (holder as { core?: unknown }).core;
  if (typeof core !== "object" || core === null) return null;
  const ops = core as { read?: unknown; internalRidSymbol?: unknown };
  if (typeof ops.read !== "function" || typeof ops.internalRidSymbol !== "symbol") return null;
  const coreRead = ops as { read: RidRead };
  return { read: (rid, buf) => coreRead.read(rid, buf), internalRidSymbol: ops.internalRidSymbol };
}

const runtime = findRuntimeCore();

/**
 * The resource id to read `conn` by with {@linkcode ridRead}, or -1 when reads must go through
 * `conn.read()`.
 */
export function readRidOf(conn: Deno.Conn): number {
  if (runtime === null) return -1;
  const rid = (conn as unknown as Record<symbol, unknown>)[runtime.internalRidSymbol];
  return typeof rid === "number" && Number.isInteger(rid) && rid >= 0 ? rid : -1;
}

/** Reads by resource id (only for ids from {@linkcode readRidOf}). */
export const ridRead: RidRead = runtime === null
  ? () => Promise.reject(new Error("reads by resource id are not available"))
  : runtime.read;

/** Whether reads bypass `Deno.Conn.read()` in this process (tests check the fast path is on). */
export const readsByRid: boolean = runtime !== null;
