/**
 * Answering a request with an error on its client connection, wherever its body stands: what
 * happens to an unread body (skipped when it is all buffered, else the connection closes), whether
 * the connection can carry another request, and the lingering close that keeps the answer from
 * being lost to a reset. The pages themselves are in `error_responses.ts`. Edge: the linger
 * reads and drops client bytes; the rest is pure.
 * @module
 */
import type { BufferedSocket } from "./buffered_socket.ts";
import { type ErrorPage, serializeErrorPage } from "./error_responses.ts";
import type { RequestHead } from "./http1_request.ts";

/** How long a connection that answered early keeps draining the request body before closing. */
export const LINGER_MS = 2_000;
/** Most bytes a lingering connection reads and drops before it closes anyway. */
const MAX_LINGER_BYTES = 1024 * 1024;

/** Where the request stands when an error answer is due. */
export interface ErrorAnswerState {
  /**
   * Its body: not read yet (some of it may be buffered), read completely (or there is none), or
   * unfinished (still being sent to the upstream, or broken).
   */
  readonly body: "unread" | "consumed" | "unfinished";
  /** Bytes of the client connection buffered past the request head. */
  readonly bufferedBytes: number;
  /** The front is shutting down: connections close after their current exchange. */
  readonly isShuttingDown: boolean;
}

/** An error answer and what it does to the connection. */
export interface ErrorAnswer {
  /** The answer's bytes, framed for the request (no body for `HEAD`). */
  readonly bytes: Uint8Array;
  /** Length of an unread body that is all buffered and is skipped (null: nothing skipped). */
  readonly skipBodyBytes: number | null;
  /** An unread body that is not all here: drain it for a moment before closing. */
  readonly needsLinger: boolean;
  /** The connection can carry another request after the answer. */
  readonly canKeep: boolean;
}

/**
 * The error answer `page` to `request`: an unread `Content-Length` body that is all buffered is
 * skipped so the connection can carry the next request; any other unread body means the
 * connection closes after lingering. An unfinished body (being sent, or broken) closes it too.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseRequestHead } from "./http1_request.ts";
 * import { plainPage } from "./error_responses.ts";
 * const request = parseRequestHead(
 *   new TextEncoder().encode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"),
 * )!;
 * const page = plainPage(404, "Not found");
 * const answer = planErrorAnswer(request, page, {
 *   body: "unread",
 *   bufferedBytes: 3,
 *   isShuttingDown: false,
 * });
 * equal(answer.skipBodyBytes, 3);
 * equal(answer.canKeep, true);
 * ```
 */
export function planErrorAnswer(
  request: RequestHead,
  page: ErrorPage,
  state: ErrorAnswerState,
): ErrorAnswer {
  let body = state.body;
  let skipBodyBytes: number | null = null;
  let needsLinger = false;
  const framing = request.framing;
  if (body === "unread") {
    if (framing.kind === "length" && state.bufferedBytes >= framing.length) {
      skipBodyBytes = framing.length;
      body = "consumed";
    } else {
      needsLinger = true;
    }
  }
  const canKeep = request.isKeepAlive && !state.isShuttingDown && body === "consumed";
  const bytes = serializeErrorPage(page, {
    isHead: request.method === "HEAD",
    isClose: !canKeep,
    isKeepAlive10: canKeep && request.minorVersion === 0,
  });
  return { bytes, skipBodyBytes, needsLinger, canKeep };
}

/** What lingering needs from the client connection. */
export interface LingerClient {
  /** The client socket (a TCP connection). */
  readonly sock: BufferedSocket;
  /** Deadline of the read in progress, on the front's coarse clock (0 = none). */
  readDeadline: number;
}

/**
 * Before closing a connection whose request body was not read: stop sending, then read and drop
 * what the client still sends until `deadlineMs` (or 1 MiB), so the answer is not lost to a
 * reset. Never throws.
 */
export async function lingerBeforeClose(client: LingerClient, deadlineMs: number): Promise<void> {
  const sock = client.sock;
  client.readDeadline = deadlineMs;
  try {
    await (sock.conn as Deno.TcpConn | Deno.TlsConn).closeWrite();
    let dropped = 0;
    while (dropped < MAX_LINGER_BYTES) {
      await sock.fill();
      if (sock.isEnded) break;
      dropped += sock.buffered;
      sock.start = sock.end;
    }
  } catch {
    // The client is gone already.
  } finally {
    client.readDeadline = 0;
  }
}
