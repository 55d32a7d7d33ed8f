/**
 * Sending a request body from the client to an instance, per its framing: a `Content-Length`
 * body as it arrives, a chunked body decoded strictly and re-encoded in canonical chunks (so
 * chunk extensions, trailers and odd framing never reach an instance). Runs beside the wait for
 * the response, which may come first. Edge: socket I/O.
 * @module
 */
import type { BufferedSocket } from "./buffered_socket.ts";
import { ChunkedDecoder, encodeChunk, LAST_CHUNK } from "./chunked.ts";
import { type RequestHead, RequestParseError } from "./http1_request.ts";
import type { UpstreamSocket } from "./upstream_pool.ts";

/** How the request body transfer to the upstream ended. */
export const enum PumpResult {
  Done,
  /** The upstream stopped taking it; the rest was read and dropped. */
  Dropped,
  ClientGone,
  /** Malformed chunked body. */
  BadBody,
}

/** What the body pump needs from the client connection. */
export interface BodySource {
  /** The client socket; bytes of the body may be buffered already. */
  readonly sock: BufferedSocket;
  /** Deadline of the read in progress, on the front's coarse clock (0 = none). */
  readDeadline: number;
  /** The deadline for the next body read: the body timeout, or the end of lingering. */
  bodyReadDeadline(): number;
  /** The client is gone: stops everything for it. */
  forceClose(): void;
}

/**
 * Sends the request body that follows `head` from the client to `up`, leaving the client
 * socket's buffer at the first byte after it. When the upstream stops taking bytes, the rest is
 * read and dropped, so the response (often an early 413) still reaches the client. A malformed
 * chunked body closes `up` (it holds part of a body that will never end properly).
 *
 * @param scratch A scratch buffer of the front's (64 KiB), for reads and re-encoded chunks.
 * @throws only on an unexpected error; every expected outcome is a {@linkcode PumpResult}.
 */
export async function pumpRequestBody(
  client: BodySource,
  up: UpstreamSocket,
  head: RequestHead,
  scratch: Uint8Array<ArrayBuffer>,
): Promise<PumpResult> {
  const sock = client.sock;
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
    client.readDeadline = client.bodyReadDeadline();
    await sock.fill();
    client.readDeadline = 0;
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
          if (!(await waitForBytes())) return clientGone(client);
          continue;
        }
        client.readDeadline = client.bodyReadDeadline();
        let bytesRead: number | null;
        try {
          bytesRead = await sock.readInto(scratch.subarray(0, Math.min(remaining, scratch.length)));
        } catch {
          bytesRead = null;
        }
        client.readDeadline = 0;
        if (bytesRead === null) return clientGone(client);
        await send(scratch.subarray(0, bytesRead));
        remaining -= bytesRead;
      }
    } else if (framing.kind === "chunked") {
      const decoder = new ChunkedDecoder("strict");
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
        if (!(await waitForBytes())) return clientGone(client);
      }
    }
    return isDropping ? PumpResult.Dropped : PumpResult.Done;
  } catch (error) {
    if (!(error instanceof RequestParseError)) throw error;
    // The upstream has part of a body that will never end properly: drop it and answer 400.
    up.close();
    return PumpResult.BadBody;
  } finally {
    client.readDeadline = 0;
  }
}

function clientGone(client: BodySource): PumpResult {
  client.forceClose();
  return PumpResult.ClientGone;
}
