/**
 * Relaying an instance's response to the client when the front's inline path cannot: the head
 * must change (hop-by-hop fields, HTTP/1.0 on either side, a sticky cookie, connection handling),
 * the body is not all buffered yet, is chunked or runs until close, or the request body is still
 * on its way. The body goes straight from the upstream socket to the client, untouched, except
 * that a chunked body is decoded for an HTTP/1.0 client. Edge: socket I/O.
 * @module
 */
import { PumpResult } from "./body_pump.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { rewriteResponseHead } from "./head_rewrite.ts";
import type { RequestHead } from "./http1_request.ts";
import type { ResponseHeadScan } from "./http1_response.ts";
import type { UpstreamSocket } from "./upstream_pool.ts";

/** What relaying needs from the client connection. */
export interface RelayClient {
  /** The client went away (or must): everything for it stops. */
  readonly isGone: boolean;
  /** The front is shutting down: the connection closes after this response. */
  readonly isShuttingDown: boolean;
  /** The request body is still being sent to the upstream. */
  readonly isBodyPumping: boolean;
  /** Writes to the client; false when it is gone. */
  writeClient(bytes: Uint8Array): Promise<boolean>;
  /** From now on a failure can no longer be answered with an error page. */
  markResponseStarted(): void;
}

/** Options for {@linkcode relayResponse}. */
export interface RelayOptions {
  /** The client connection the response goes to. */
  readonly client: RelayClient;
  /** The upstream connection; its unread bytes start with the response head. */
  readonly upstream: UpstreamSocket;
  /** The request being answered. */
  readonly request: RequestHead;
  /** The scanned response head, at the start of `upstream`'s unread bytes. */
  readonly response: ResponseHeadScan;
  /** A sticky-session cookie value to add to the head, if any. */
  readonly setCookie: string | undefined;
  /** The request body transfer, when one was started. */
  readonly pump: Promise<PumpResult> | null;
  /** A scratch buffer of the front's (64 KiB), for combined writes and body reads. */
  readonly scratch: Uint8Array<ArrayBuffer>;
}

/** Which connections may carry another exchange after a response was relayed. */
export interface RelayResult {
  readonly isClientKept: boolean;
  readonly isUpstreamKept: boolean;
}

// The four possible results, shared: relaying allocates no result per response.
const CLOSE_BOTH: RelayResult = Object.freeze({ isClientKept: false, isUpstreamKept: false });
const KEEP_CLIENT: RelayResult = Object.freeze({ isClientKept: true, isUpstreamKept: false });
const KEEP_UPSTREAM: RelayResult = Object.freeze({ isClientKept: false, isUpstreamKept: true });
const KEEP_BOTH: RelayResult = Object.freeze({ isClientKept: true, isUpstreamKept: true });

function relayResult(isClientKept: boolean, isUpstreamKept: boolean): RelayResult {
  if (isClientKept) return isUpstreamKept ? KEEP_BOTH : KEEP_CLIENT;
  return isUpstreamKept ? KEEP_UPSTREAM : CLOSE_BOTH;
}

/**
 * Streams the response head (rewritten where needed) and body to the client; returns which
 * connections may carry another exchange.
 *
 * @throws when the upstream fails on the way (a read error, a malformed chunked body, a body cut
 * short); bytes may have reached the client by then.
 */
export async function relayResponse(options: RelayOptions): Promise<RelayResult> {
  const { client, upstream: up, request: head, response, setCookie, pump, scratch } = options;
  let framing = response.framing;
  if (response.status === 205 && framing === "length" && response.contentLength === 0) {
    framing = "none";
  }
  const isClient10 = head.minorVersion === 0;
  const isDechunk = isClient10 && framing === "chunked";
  const isClientKept = head.isKeepAlive && !client.isShuttingDown &&
    framing !== "close" && !isDechunk;
  let isUpstreamKept = response.isKeepAlive && framing !== "close";
  let addLines = "";
  if (setCookie !== undefined) addLines += `set-cookie: ${setCookie}\r\n`;
  if (!isClientKept) addLines += "connection: close\r\n";
  else if (isClient10) addLines += "connection: keep-alive\r\n";
  const isRewritten = addLines !== "" || response.minorVersion === 0 || isDechunk ||
    response.hasHopByHop;
  const headStart = up.start;
  const headBytes = isRewritten
    ? rewriteResponseHead(up.unread(), response.headLength, {
      dropHopByHop: true,
      dropTransferEncoding: isDechunk,
      addLines,
    })
    : null;
  up.start += response.headLength;
  client.markResponseStarted();

  // Body bytes that came with the head go out in the same write.
  let take = 0;
  let decoder: ChunkedDecoder | null = null;
  let isDone = false;
  let remaining = 0;
  if (framing === "none") {
    isDone = true;
  } else if (framing === "length") {
    take = Math.min(response.contentLength, up.buffered);
    remaining = response.contentLength - take;
    isDone = remaining === 0;
  } else if (framing === "chunked") {
    decoder = new ChunkedDecoder("lenient");
    const fed = decoder.feed(up.unread());
    take = fed.consumed;
    isDone = fed.isDone;
    if (isDechunk) {
      if (!(await client.writeClient(headBytes!))) return CLOSE_BOTH;
      for (const piece of fed.data) if (!(await client.writeClient(piece))) return CLOSE_BOTH;
      up.start += take;
      take = -1;
    }
  } else {
    take = up.buffered;
  }
  if (take >= 0) {
    let out: Uint8Array;
    if (headBytes === null) {
      out = up.buf.subarray(headStart, up.start + take);
    } else if (headBytes.length + take <= scratch.length) {
      scratch.set(headBytes, 0);
      scratch.set(up.buf.subarray(up.start, up.start + take), headBytes.length);
      out = scratch.subarray(0, headBytes.length + take);
    } else {
      if (!(await client.writeClient(headBytes))) return CLOSE_BOTH;
      out = up.buf.subarray(up.start, up.start + take);
    }
    if (!(await client.writeClient(out))) return CLOSE_BOTH;
    up.start += take;
  }

  // The rest of the body, straight from the upstream socket to the client.
  while (!isDone) {
    const room = framing === "length" ? Math.min(remaining, scratch.length) : scratch.length;
    const bytesRead = await up.readInto(scratch.subarray(0, room));
    if (bytesRead === null) {
      if (framing === "close") break;
      // Cut short: the client sees the connection end without the framed end of the body.
      throw new Error("response body cut short");
    }
    let out = scratch.subarray(0, bytesRead);
    if (framing === "length") {
      remaining -= bytesRead;
      isDone = remaining === 0;
    } else if (decoder !== null) {
      const fed = decoder.feed(out);
      isDone = fed.isDone;
      if (fed.consumed < bytesRead) {
        // Bytes past the end of the body: this upstream connection cannot be trusted again.
        isUpstreamKept = false;
        out = out.subarray(0, fed.consumed);
      }
      if (isDechunk) {
        for (const piece of fed.data) {
          if (!(await client.writeClient(piece))) return CLOSE_BOTH;
        }
        continue;
      }
    }
    if (!(await client.writeClient(out))) return CLOSE_BOTH;
  }
  if (up.buffered > 0) isUpstreamKept = false;
  // Answered before the request body was all sent: neither connection can carry another.
  if (client.isBodyPumping) return CLOSE_BOTH;
  if (pump !== null && (await pump) !== PumpResult.Done) return CLOSE_BOTH;
  return relayResult(isClientKept && !client.isGone, isUpstreamKept);
}
