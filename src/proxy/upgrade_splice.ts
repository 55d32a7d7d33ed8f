/**
 * The Upgrade (WebSocket) splice: after an instance answers 101 Switching Protocols, bytes flow
 * both ways between the client and the instance, untouched, until either side ends; then both
 * connections close. Edge: socket I/O.
 * @module
 */
import type { BufferedSocket } from "./buffered_socket.ts";
import type { UpstreamSocket } from "./upstream_pool.ts";

/** What the splice needs from the client connection. */
export interface SpliceClient {
  /** The client socket; bytes the client sent after the request may be buffered already. */
  readonly sock: BufferedSocket;
  /** Writes to the client; false when it is gone. */
  writeClient(bytes: Uint8Array): Promise<boolean>;
  /** From now on a failure can no longer be answered with an error page. */
  markResponseStarted(): void;
  /** Closes the client connection and stops everything for it. */
  forceClose(): void;
}

/**
 * Sends what `up` holds after the 101 head (the head included: `up.start` is at its start), then
 * copies bytes both ways until either side ends, and closes both.
 */
export async function spliceUpgrade(client: SpliceClient, up: UpstreamSocket): Promise<void> {
  const scratch = new Uint8Array(16 * 1024);
  const sock = client.sock;
  client.markResponseStarted();
  if (!(await client.writeClient(up.unread()))) return;
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
        const bytesRead = await sock.readInto(buf);
        if (bytesRead === null) return;
        await up.writeAll(buf.subarray(0, bytesRead));
      }
    } catch {
      // Either side went away.
    }
  };
  const toClient = async (): Promise<void> => {
    try {
      for (;;) {
        const bytesRead = await up.readInto(scratch);
        if (bytesRead === null) return;
        if (!(await client.writeClient(scratch.subarray(0, bytesRead)))) return;
      }
    } catch {
      // Either side went away.
    }
  };
  const one = toUpstream();
  const other = toClient();
  await Promise.race([one, other]);
  up.close();
  client.forceClose();
  await Promise.all([one, other]);
}
