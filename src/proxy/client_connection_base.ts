/**
 * One client connection of the raw front, everything but its request loop: the client socket and
 * its deadlines (checked by the front's sweep), what happens when the client leaves, writes to the
 * client, where the request body stands, the error answers, and the rarer steps of an exchange
 * (resolving a target and answering when that fails, connecting and waiting for a restart,
 * sending a request body, relaying a response the inline path cannot send).
 *
 * The request loop (`client_connection.ts`) extends this class rather than holding it, so the hot
 * path reaches this state as fields of the same object: no extra object, indirection or async
 * frame per request. That is why the state it shares is `protected` rather than `#private`.
 * It is a little over 400 lines because it is that one object's state and its rare paths: the
 * pure decisions (`exchange_rules.ts`, `error_answer.ts`) and the I/O helpers (`body_pump.ts`,
 * `response_relay.ts`, `upstream_dialer.ts`) are already out of it.
 * Edge: sockets and logging.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { messageOf } from "../core/errors.ts";
import type { HostRoute } from "../core/host_route.ts";
import { formatInstanceKey } from "../core/instance_key.ts";
import { readStickyId } from "../core/sticky.ts";
import { type BodySource, pumpRequestBody, PumpResult } from "./body_pump.ts";
import { BufferedSocket } from "./buffered_socket.ts";
import { type ErrorAnswerState, planErrorAnswer } from "./error_answer.ts";
import type { AttemptRecovery } from "./exchange_rules.ts";
import {
  badGatewayPage,
  type ErrorPage,
  gatewayTimeoutPage,
  malformedRequestPage,
  resolveFailurePage,
  serializeErrorPage,
} from "./error_responses.ts";
import type { FrontContext, FrontSettings } from "./front_settings.ts";
import { incomingForwardedFor } from "./head_rewrite.ts";
import { fieldValue, type RequestHead } from "./http1_request.ts";
import type { ResponseHeadScan } from "./http1_response.ts";
import { type RelayClient, relayResponse, type RelayResult } from "./response_relay.ts";
import type { Target } from "./target.ts";
import type { SpliceClient } from "./upgrade_splice.ts";
import { UpstreamDialer } from "./upstream_dialer.ts";
import type { UpstreamSocket } from "./upstream_pool.ts";

const log = getLogger(["tenement", "proxy"]);

const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/** Where the request body stands. */
export const enum BodyState {
  /** Not read yet (some of it may be buffered). */
  Unread,
  /** Being sent to the upstream. */
  Pumping,
  /** Read completely (forwarded or dropped): the connection can carry another request. */
  Consumed,
  /** Malformed or cut short: the connection must close. */
  Broken,
}

/** A client connection's state and everything but its request loop (see the module doc). */
export abstract class ClientConnectionBase implements BodySource, RelayClient, SpliceClient {
  readonly sock: BufferedSocket;
  /** The peer's address. */
  readonly clientIp: string;
  /** The peer is a trusted proxy: its `X-Forwarded-For` is believed. */
  readonly isTrustedPeer: boolean;
  protected readonly front: FrontContext;
  protected readonly settings: FrontSettings;
  protected readonly dialer: UpstreamDialer;
  /** Deadlines (on the front's coarse clock, 0 = none), checked by the front's sweep. */
  readDeadline = 0;
  writeDeadline = 0;
  upstreamDeadline = 0;
  /** Waiting for the next request with nothing buffered (may be closed on shutdown). */
  isIdle = false;
  /** The client went away (or must): everything for it stops. */
  protected isClientGone = false;
  /** The request's upstream deadline passed. */
  protected isTimedOut = false;
  /** Drain what the client still sends before closing (an unread body was answered early). */
  protected needsLinger = false;
  /** While the exchange ends before the request body did: the end of dropping the rest. */
  protected lingerUntil = 0;
  /** The upstream connection of the exchange in progress. */
  protected upstream: UpstreamSocket | null = null;
  protected bodyState: BodyState = BodyState.Consumed;
  /** Bytes of the response reached the client: a failure can no longer become an error page. */
  protected isResponseStarted = false;
  #abort: AbortController | null = null;
  /** Stops the wait in progress (connect, restart) on timeout or when the client leaves. */
  #interrupt: (() => void) | null = null;

  constructor(front: FrontContext, conn: Deno.TcpConn | Deno.TlsConn, isTrustedPeer: boolean) {
    this.front = front;
    this.settings = front.settings;
    this.sock = new BufferedSocket(conn, { initialBytes: 16 * 1024, maxBytes: 128 * 1024 });
    this.clientIp = conn.remoteAddr.hostname;
    this.isTrustedPeer = isTrustedPeer;
    this.sock.onEnd = this.#onClientEnd;
    this.dialer = new UpstreamDialer(front.pool, front.settings);
  }

  /** Closes everything now (shutdown grace is over, or a deadline passed). */
  forceClose(): void {
    this.onClientGone();
    this.sock.close();
  }

  /** The client went away (or must): everything for it stops. */
  get isGone(): boolean {
    return this.isClientGone;
  }

  /** The front is shutting down: connections close after their current exchange. */
  get isShuttingDown(): boolean {
    return this.front.isShuttingDown;
  }

  /** The request body is still being sent to the upstream. */
  get isBodyPumping(): boolean {
    return this.bodyState === BodyState.Pumping;
  }

  /** From now on a failure can no longer be answered with an error page. */
  markResponseStarted(): void {
    this.isResponseStarted = true;
  }

  /** The deadline for the next request body read: the body timeout, or the end of lingering. */
  bodyReadDeadline(): number {
    return this.lingerUntil !== 0
      ? this.lingerUntil
      : this.front.deadline(this.settings.bodyTimeoutMs);
  }

  /** Acts on the deadlines that passed: closes the connection, or times the exchange out. */
  checkDeadlines(nowMs: number): void {
    if (this.readDeadline !== 0 && nowMs >= this.readDeadline) {
      this.readDeadline = 0;
      this.forceClose();
    }
    if (this.writeDeadline !== 0 && nowMs >= this.writeDeadline) {
      this.writeDeadline = 0;
      this.forceClose();
    }
    if (this.upstreamDeadline !== 0 && nowMs >= this.upstreamDeadline) {
      this.upstreamDeadline = 0;
      this.isTimedOut = true;
      this.upstream?.close();
      this.#interrupt?.();
    }
  }

  /** The client went away (or must): stop whatever is in flight for it. */
  protected readonly onClientGone = (): void => {
    if (this.isClientGone) return;
    this.isClientGone = true;
    this.sock.close();
    this.#abort?.abort(new DOMException("The client closed the connection", "AbortError"));
    this.upstream?.close();
    this.#interrupt?.();
  };

  /**
   * The client ended its side. With pipelined requests still buffered they are served first
   * (writes may still work on a half-closed connection); otherwise the client is gone, as nginx
   * also judges it.
   */
  readonly #onClientEnd = (): void => {
    if (this.sock.buffered > 0 && this.bodyState !== BodyState.Pumping) return;
    this.onClientGone();
  };

  #signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  /**
   * The resolver's target for `route`, waking it. Returns the resolver's promise as it is, so the
   * request path gains no async frame.
   */
  protected resolve(
    route: Extract<HostRoute, { kind: "direct" | "weighted" }>,
    head: RequestHead,
  ): Promise<Target> {
    const resolver = this.settings.resolver;
    // The client the per-client wake and creation rates count: behind a trusted proxy, the
    // address its X-Forwarded-For names.
    const clientIp = this.isTrustedPeer
      ? this.settings.trustedProxies.clientOf(this.clientIp, incomingForwardedFor(head))
      : this.clientIp;
    return route.kind === "direct"
      ? resolver.resolveDirect(route.service, route.id, this.#signal(), clientIp)
      : resolver.resolveWeighted(
        route.service,
        this.#signal(),
        readStickyId(cookieOf(head), route.service),
        clientIp,
      );
  }

  /** No target for the request (unknown, forbidden, cannot start): 404, 403 or 503. */
  protected async answerResolveFailure(head: RequestHead, error: unknown): Promise<boolean> {
    if (this.isClientGone) return false;
    const page = resolveFailurePage(error, { accept: fieldValue(head, "accept") });
    if (page.status === 503) {
      log.warn("Cannot serve {host}{target}: {error}", {
        host: head.host,
        target: head.target,
        error: messageOf(error),
      });
    }
    return await this.answer(head, page);
  }

  /**
   * After a failed attempt whose recovery is to await the instance's restart: the restarted
   * target, or undefined when there is none to wait for or the wait came to nothing.
   */
  protected restartedTarget(
    target: Target | null,
    recovery: AttemptRecovery,
  ): Promise<Target | undefined> | undefined {
    return recovery === "await_restart" && target !== null
      ? this.waitForRestart(target)
      : undefined;
  }

  /** Ends the in-flight bookkeeping of the old target and begins it for `next`. */
  protected switchRequest(release: (() => void) | null, next: Target): () => void {
    release?.();
    return this.settings.resolver.beginRequest(next);
  }

  /**
   * The resolver's wait for a restarted target, interruptible by the request timeout; undefined
   * when there is none, or the client left or the request timed out meanwhile.
   */
  protected async waitForRestart(target: Target): Promise<Target | undefined> {
    const timeout = new AbortController();
    this.#interrupt = () => timeout.abort();
    let next: Target | undefined;
    try {
      const signal = AbortSignal.any([this.#signal(), timeout.signal]);
      next = await this.settings.resolver.waitForRestart(target, signal);
    } catch {
      return undefined;
    } finally {
      this.#interrupt = null;
    }
    return this.isClientGone || this.isTimedOut ? undefined : next;
  }

  /** Connects to the target (Unix socket first when preferred), interruptible by timeout/abort. */
  protected async connect(target: Target | null): Promise<UpstreamSocket> {
    const pool = this.front.pool;
    const connecting = this.dialer.open(target);
    const interrupted = Promise.withResolvers<never>();
    interrupted.promise.catch(() => {});
    this.#interrupt = () => interrupted.reject(new Error("interrupted"));
    try {
      if (this.isClientGone || this.isTimedOut) this.#interrupt();
      return await Promise.race([connecting, interrupted.promise]);
    } catch (error) {
      // A connect that completes after the interrupt is closed right away.
      connecting.then((late) => pool.release(late, false), () => {});
      throw error;
    } finally {
      this.#interrupt = null;
    }
  }

  /** Relays a response the inline path cannot send, with a scratch buffer for the duration. */
  protected async relay(
    up: UpstreamSocket,
    head: RequestHead,
    response: ResponseHeadScan,
    setCookie: string | undefined,
    pump: Promise<PumpResult> | null,
  ): Promise<RelayResult> {
    const scratch = this.front.takeScratch();
    try {
      return await relayResponse({
        client: this,
        upstream: up,
        request: head,
        response,
        setCookie,
        pump,
        scratch,
      });
    } finally {
      this.front.giveScratch(scratch);
    }
  }

  /** Runs the body pump and records where the body stands when it ends. */
  protected async pumpBody(up: UpstreamSocket, head: RequestHead): Promise<PumpResult> {
    const scratch = this.front.takeScratch();
    let result: PumpResult;
    try {
      result = await pumpRequestBody(this, up, head, scratch);
    } catch (error) {
      // Never rejects: nothing awaits the pump until the response is read.
      log.error("Unexpected error sending a request body: {error}", { error: String(error) });
      up.close();
      result = PumpResult.BadBody;
    } finally {
      this.front.giveScratch(scratch);
    }
    this.bodyState = result === PumpResult.Done || result === PumpResult.Dropped
      ? BodyState.Consumed
      : BodyState.Broken;
    this.sock.watch();
    return result;
  }

  /**
   * An attempt failed for good (connect, send, or no response head): 504 past the request
   * timeout, else 502.
   */
  protected async failAttempt(
    head: RequestHead,
    target: Target | null,
    started: number,
    error: unknown,
  ): Promise<boolean> {
    if (this.isClientGone) return false;
    if (this.isTimedOut) return await this.fail(head, target, started, gatewayTimeoutPage());
    logUpstreamFailure(target, error);
    return await this.fail(head, target, started, badGatewayPage());
  }

  /** Answers with `page` after the forwarding began (502/504). */
  protected async fail(
    head: RequestHead,
    target: Target | null,
    started: number,
    page: ErrorPage,
  ): Promise<boolean> {
    this.upstreamDeadline = 0;
    if (target !== null) {
      this.settings.onProxied?.(target, page.status, performance.now() - started);
    }
    return await this.failAfterHead(head, page);
  }

  /** Answers with `page` once the response head is known to be unusable (closes the upstream). */
  protected async failAfterHead(head: RequestHead, page: ErrorPage): Promise<boolean> {
    this.upstream?.close();
    return await this.answer(head, page);
  }

  /**
   * Answers `page` (an error). An unread body is skipped when it is all buffered; otherwise the
   * connection closes (after draining it for a moment, so the answer is not lost to a reset).
   */
  protected async answer(head: RequestHead, page: ErrorPage): Promise<boolean> {
    if (this.isClientGone) return false;
    const answer = planErrorAnswer(head, page, {
      body: bodyStandingOf(this.bodyState),
      bufferedBytes: this.sock.buffered,
      isShuttingDown: this.front.isShuttingDown,
    });
    if (answer.skipBodyBytes !== null) {
      this.sock.start += answer.skipBodyBytes;
      this.bodyState = BodyState.Consumed;
    }
    if (answer.needsLinger) this.needsLinger = true;
    return (await this.writeClient(answer.bytes)) && answer.canKeep;
  }

  /** The chunked request body was malformed: 400, and the connection closes. */
  protected async failBadBody(
    head: RequestHead,
    target: Target | null,
    started: number,
  ): Promise<boolean> {
    if (target !== null) this.settings.onProxied?.(target, 400, performance.now() - started);
    await this.writeClient(
      serializeErrorPage(malformedRequestPage(), { isHead: head.method === "HEAD", isClose: true }),
    );
    return false;
  }

  /** Writes to the client; false when it is gone (then everything for it stops). */
  writeClient(bytes: Uint8Array): Promise<boolean> {
    if (this.isClientGone) return RESOLVED_FALSE;
    this.writeDeadline = this.front.deadline(this.settings.sendTimeoutMs);
    return this.sock.writeAll(bytes).then(this.#onClientWritten, this.#onClientWriteFailed);
  }

  // Bound once: every response goes through these.
  readonly #onClientWritten = (): boolean => {
    this.writeDeadline = 0;
    return true;
  };

  readonly #onClientWriteFailed = (): boolean => {
    this.writeDeadline = 0;
    this.onClientGone();
    return false;
  };
}

/** Where the body stands, for an error answer. */
function bodyStandingOf(state: BodyState): ErrorAnswerState["body"] {
  if (state === BodyState.Unread) return "unread";
  if (state === BodyState.Consumed) return "consumed";
  // A body still being pumped is drained by the exchange before the connection closes.
  return "unfinished";
}

/** The request's Cookie fields joined into one value (RFC 6265 §5.4), or null without one. */
function cookieOf(head: RequestHead): string | null {
  let cookie: string | null = null;
  for (const field of head.headers) {
    if (field.name === "cookie") {
      cookie = cookie === null ? field.value : `${cookie}; ${field.value}`;
    }
  }
  return cookie;
}

/** Logs why an upstream failed (never shown to the client). */
export function logUpstreamFailure(target: Target | null, error: unknown): void {
  log.warn("Upstream {key} failed: {error}", {
    key: target === null ? "(tenement API)" : formatInstanceKey(target),
    error: messageOf(error),
  });
}
