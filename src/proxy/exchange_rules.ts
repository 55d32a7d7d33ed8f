/**
 * Two decisions of the front's exchange loop (`client_connection.ts`), as pure functions: how a
 * failed attempt is recovered from, and may a response go to the client inline, untouched. They hold
 * the conditions only; the connection gathers the facts and acts. Pure: no I/O.
 * @module
 */
import type { RequestHead } from "./http1_request.ts";
import type { ResponseHeadScan } from "./http1_response.ts";

/** Where an attempt to forward a request failed, and what had happened by then. */
export type FailedAttempt =
  | {
    /** Connecting to the upstream failed (refused, not found, …). */
    readonly stage: "connect";
    /** The request is for an instance (not for tenement's own hosts, which never restart). */
    readonly isInstance: boolean;
    readonly isTimedOut: boolean;
    /** This request already waited for a restart of its instance once. */
    readonly hasWaitedForRestart: boolean;
  }
  | {
    /** Writing the request head (with the body, when it went in the same write) failed. */
    readonly stage: "send";
    /** The connection came from the pool: the instance may have closed it meanwhile. */
    readonly isReusedConnection: boolean;
    readonly isTimedOut: boolean;
    /**
     * Every byte of the request can be sent again: it has no body left to read, or all of its
     * body went in the failed write (and is still in the client buffer).
     */
    readonly isRequestReplayable: boolean;
  }
  | {
    /** The upstream closed the connection before a complete response head. */
    readonly stage: "response";
    /** The connection came from the pool: the instance may have closed it meanwhile. */
    readonly isReusedConnection: boolean;
    readonly isTimedOut: boolean;
    /** Bytes of the request body went out on this connection (with the head, or by the pump). */
    readonly isBodySent: boolean;
    /** Some bytes of a response arrived before the close. */
    readonly hasResponseBytes: boolean;
    /** The request is for an instance (not for tenement's own hosts, which never restart). */
    readonly isInstance: boolean;
    /** GET, HEAD or OPTIONS: sending it twice changes nothing on the app's side. */
    readonly isSafeMethod: boolean;
    /** This request already waited for a restart of its instance once. */
    readonly hasWaitedForRestart: boolean;
  };

/** What to do after a failed attempt. */
export type AttemptRecovery =
  /** Send it again at once, on another connection. */
  | "retry"
  /** Wait until the instance runs again (its process died), then send it again. */
  | "await_restart"
  /** Give up: answer the client with an error. */
  | "fail";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * True for methods that may be sent twice without changing anything on the app's side.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(isSafeMethod("GET"), true);
 * equal(isSafeMethod("POST"), false);
 * ```
 */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

/**
 * What to do after a failed attempt. A refused connect to an instance waits for the instance's
 * restart, once per request. A pooled connection the instance had closed meanwhile is replaced by
 * another, as long as nothing of the exchange is lost: the whole request is still at hand (send)
 * or nothing of its body went out and no response was seen (response). A new connection that an
 * instance closes before answering anything means its process is dying (a kill can land between
 * accept and the response): a safe request waits for the restart once, like a refused connect;
 * any other request fails, since the app may have acted on it. A request past its timeout is
 * never tried again.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const refused = { stage: "connect", isInstance: true, isTimedOut: false } as const;
 * equal(recoveryOf({ ...refused, hasWaitedForRestart: false }), "await_restart");
 * equal(recoveryOf({ ...refused, hasWaitedForRestart: true }), "fail");
 * ```
 */
export function recoveryOf(attempt: FailedAttempt): AttemptRecovery {
  if (attempt.isTimedOut) return "fail";
  switch (attempt.stage) {
    case "connect":
      return attempt.isInstance && !attempt.hasWaitedForRestart ? "await_restart" : "fail";
    case "send":
      return attempt.isReusedConnection && attempt.isRequestReplayable ? "retry" : "fail";
    case "response":
      if (attempt.isBodySent || attempt.hasResponseBytes) return "fail";
      if (attempt.isReusedConnection) return "retry";
      return attempt.isInstance && attempt.isSafeMethod && !attempt.hasWaitedForRestart
        ? "await_restart"
        : "fail";
  }
}

/** The parts of a request head that {@linkcode canPassThroughInline} looks at. */
export type InlineRequest = Pick<RequestHead, "minorVersion" | "isKeepAlive">;

/**
 * Whether a response can go to the client inline, as one write of the bytes the upstream socket
 * holds: its head passes untouched (HTTP/1.1 on both sides, no hop-by-hop fields, no sticky
 * cookie to add, the client connection stays open), its whole body is buffered already (or it
 * has none), and no request body transfer runs beside it. Everything else is relayed.
 *
 * Positional arguments, not an options object: this runs once per request on the hot path, where
 * an options object would be an allocation per request.
 *
 * @param response The scanned response head.
 * @param bufferedBytes Bytes the upstream socket holds from the start of the response head.
 * @param request The request being answered.
 * @param isShuttingDown The front is shutting down (the client connection closes after this).
 * @param hasBodyPump A request body transfer was started for this exchange.
 * @param setCookie The sticky-session cookie to add to the response, if any.
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { newResponseHeadScan, scanResponseHead } from "./http1_response.ts";
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
 * const response = newResponseHeadScan();
 * scanResponseHead(bytes, "GET", response);
 * const request = { minorVersion: 1, isKeepAlive: true } as const;
 * equal(canPassThroughInline(response, bytes.length, request, false, false, undefined), true);
 * equal(canPassThroughInline(response, bytes.length - 1, request, false, false, undefined), false);
 * ```
 */
export function canPassThroughInline(
  response: ResponseHeadScan,
  bufferedBytes: number,
  request: InlineRequest,
  isShuttingDown: boolean,
  hasBodyPump: boolean,
  setCookie: string | undefined,
): boolean {
  const framing = response.framing;
  return !hasBodyPump && !response.hasHopByHop && response.minorVersion === 1 &&
    request.minorVersion === 1 && request.isKeepAlive && !isShuttingDown &&
    setCookie === undefined &&
    (framing === "none" ||
      (framing === "length" && bufferedBytes >= response.headLength + response.contentLength));
}
