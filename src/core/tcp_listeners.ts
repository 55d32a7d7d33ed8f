/**
 * The listening TCP sockets of `/proc/net/tcp` and `/proc/net/tcp6`: port and owner uid of each.
 * Pure: the text comes in.
 * @module
 */

/** One listening socket. */
export interface TcpListener {
  readonly port: number;
  /** The uid that created the socket. */
  readonly uid: number;
}

/** `st` of a socket in the LISTEN state. */
const LISTEN = "0A";

/**
 * The listening sockets in the text of `/proc/net/tcp` or `/proc/net/tcp6` (the header line and
 * anything malformed are skipped).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
 *   "   0: 0100007F:7531 00000000:0000 0A 00000000:00000000 00:00000000 00000000 61200        0 1077 1\n" +
 *   "   1: 0100007F:7531 0100007F:9C40 01 00000000:00000000 00:00000000 00000000 61200        0 1078 1\n";
 * deepEqual(parseTcpListeners(text), [{ port: 30001, uid: 61200 }]);
 * ```
 */
export function parseTcpListeners(text: string): TcpListener[] {
  const listeners: TcpListener[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // sl, local_address, rem_address, st, tx:rx, tr:when, retrnsmt, uid, ...
    if (fields.length < 8 || fields[3] !== LISTEN) continue;
    const local = fields[1]!;
    const colon = local.lastIndexOf(":");
    const port = Number.parseInt(local.slice(colon + 1), 16);
    const uid = Number(fields[7]);
    if (colon < 0 || !Number.isInteger(port) || !Number.isInteger(uid)) continue;
    listeners.push({ port, uid });
  }
  return listeners;
}
