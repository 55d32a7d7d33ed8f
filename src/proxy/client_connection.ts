/**
 * One client connection of the raw front: reads its requests in order (strictly,
 * `http1_request.ts`), routes each on Host, asks the resolver for a target (which wakes
 * instances) and forwards it over a pooled upstream connection. The common exchange (a response
 * whose head passes untouched and whose body is already buffered) is served inline in one async
 * function; relaying other responses (`response_relay.ts`), sending request bodies
 * (`body_pump.ts`) and upgrades (`upgrade_splice.ts`) are separate. Also here: the error answers,
 * which depend on where the request body stands, and the per-connection deadlines the front's
 * sweep checks. Edge: sockets and logging.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { messageOf } from "../core/errors.ts";
import { formatInstanceKey } from "../core/instance_key.ts";
import { type HostRoute, parseHostRoute } from "../core/host_route.ts";
import { readStickyId } from "../core/sticky.ts";
import type { Target } from "./target.ts";
import { type BodySource, pumpRequestBody, PumpResult } from "./body_pump.ts";
import { BufferedSocket } from "./buffered_socket.ts";
import { type FrontContext, type FrontSettings, SCRATCH_BYTES } from "./front_settings.ts";
import {
  badGatewayPage,
  CONTINUE_BYTES,
  type ErrorPage,
  gatewayTimeoutPage,
  invalidHostPage,
  malformedRequestPage,
  plainPage,
  resolveFailurePage,
  serializeErrorPage,
} from "./error_responses.ts";
import {
  type ForwardedLinesCache,
  forwardRequestHead,
  newForwardedLinesCache,
} from "./head_rewrite.ts";
import {
  fieldValue,
  parseRequestHead,
  type RequestHead,
  RequestParseError,
} from "./http1_request.ts";
import { canPassThroughInline, isRetryable } from "./exchange_rules.ts";
import {
  type ErrorAnswerState,
  LINGER_MS,
  lingerBeforeClose,
  planErrorAnswer,
} from "./error_answer.ts";
import { newResponseHeadScan, type ResponseHeadScan, scanResponseHead } from "./http1_response.ts";
import { type RelayClient, relayResponse, type RelayResult } from "./response_relay.ts";
import { type SpliceClient, spliceUpgrade } from "./upgrade_splice.ts";
import type { UpstreamSocket } from "./upstream_pool.ts";
import { UpstreamDialer } from "./upstream_dialer.ts";

const log = getLogger(["tenement", "proxy"]);

const MAX_INTERIM_RESPONSES = 10;
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/** Where the request body stands. */
const enum BodyState {
  /** Not read yet (some of it may be buffered). */
  Unread,
  /** Being sent to the upstream. */
  Pumping,
  /** Read completely (forwarded or dropped): the connection can carry another request. */
  Consumed,
  /** Malformed or cut short: the connection must close. */
  Broken,
}

/** One client connection and the request being served on it. */
export class ClientConnection implements BodySource, RelayClient, SpliceClient {
  readonly sock: BufferedSocket;
  readonly clientIp: string;
  readonly #front: FrontContext;
  readonly #settings: FrontSettings;
  /** Deadlines (on the front's coarse clock, 0 = none), checked by the front's sweep. */
  readDeadline = 0;
  writeDeadline = 0;
  upstreamDeadline = 0;
  /** Waiting for the next request with nothing buffered (may be closed on shutdown). */
  isIdle = false;
  #abort: AbortController | null = null;
  #isGone = false;
  #isTimedOut = false;
  #needsLinger = false;
  #lingerUntil = 0;
  #upstream: UpstreamSocket | null = null;
  #interrupt: (() => void) | null = null;
  #bodyState = BodyState.Consumed;
  #isResponseStarted = false;
  #sentContinue = false;
  // Per-connection memos: keep-alive requests usually repeat the Host and the target.
  #lastHost: string | null | undefined = undefined;
  #lastRoute: HostRoute = { kind: "builtin" };
  readonly #dialer: UpstreamDialer;
  readonly #forwardedCache: ForwardedLinesCache = newForwardedLinesCache();
  #headOut = new Uint8Array(4096);
  readonly #response: ResponseHeadScan = newResponseHeadScan();

  constructor(front: FrontContext, conn: Deno.TcpConn) {
    this.#front = front;
    this.#settings = front.settings;
    this.sock = new BufferedSocket(conn, { initialBytes: 16 * 1024, maxBytes: 128 * 1024 });
    this.clientIp = conn.remoteAddr.hostname;
    this.sock.onEnd = this.#onClientEnd;
    this.#dialer = new UpstreamDialer(front.pool, front.settings);
  }

  /** Serves requests in order until the connection ends. */
  async run(): Promise<void> {
    const sock = this.sock;
    const settings = this.#settings;
    try {
      for (;;) {
        // Read the next request head (bytes of pipelined requests may be buffered already).
        let head: RequestHead | null = null;
        let scanned = 0;
        this.isIdle = sock.buffered === 0;
        this.readDeadline = this.#front.deadline(
          this.isIdle ? settings.idleTimeoutMs : settings.headTimeoutMs,
        );
        try {
          for (;;) {
            if (sock.buffered > 0) {
              if (this.isIdle) {
                this.isIdle = false;
                this.readDeadline = this.#front.deadline(settings.headTimeoutMs);
              }
              head = parseRequestHead(sock.unread(), { searchFrom: scanned });
              if (head !== null) break;
              scanned = sock.buffered;
            }
            if (this.isIdle && this.#front.isShuttingDown) return;
            await sock.fill();
            if (sock.isEnded) return;
          }
        } catch (error) {
          if (!(error instanceof RequestParseError)) throw error;
          this.#needsLinger = true;
          await this.writeClient(serializeErrorPage(malformedRequestPage(), { isClose: true }));
          return;
        }
        this.readDeadline = 0;
        this.isIdle = false;
        if (!(await this.#serve(head))) return;
        if (this.#isGone || this.#front.isShuttingDown) return;
      }
    } catch (error) {
      log.error("Unexpected error on a client connection: {error}", {
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    } finally {
      this.readDeadline = 0;
      this.writeDeadline = 0;
      this.upstreamDeadline = 0;
      this.isIdle = false;
      if (this.#needsLinger && !this.#isGone) {
        await lingerBeforeClose(this, this.#front.deadline(LINGER_MS));
      }
      sock.close();
    }
  }

  /** Closes everything now (shutdown grace is over, or a deadline passed). */
  forceClose(): void {
    this.#onClientGone();
    this.sock.close();
  }

  /** The client went away (or must): everything for it stops. */
  get isGone(): boolean {
    return this.#isGone;
  }

  /** The front is shutting down: connections close after their current exchange. */
  get isShuttingDown(): boolean {
    return this.#front.isShuttingDown;
  }

  /** The request body is still being sent to the upstream. */
  get isBodyPumping(): boolean {
    return this.#bodyState === BodyState.Pumping;
  }

  /** From now on a failure can no longer be answered with an error page. */
  markResponseStarted(): void {
    this.#isResponseStarted = true;
  }

  /** The deadline for the next request body read: the body timeout, or the end of lingering. */
  bodyReadDeadline(): number {
    return this.#lingerUntil !== 0
      ? this.#lingerUntil
      : this.#front.deadline(this.#settings.bodyTimeoutMs);
  }

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
      this.#isTimedOut = true;
      this.#upstream?.close();
      this.#interrupt?.();
    }
  }

  /** The client went away (or must): stop whatever is in flight for it. */
  readonly #onClientGone = (): void => {
    if (this.#isGone) return;
    this.#isGone = true;
    this.sock.close();
    this.#abort?.abort(new DOMException("The client closed the connection", "AbortError"));
    this.#upstream?.close();
    this.#interrupt?.();
  };

  /**
   * The client ended its side. With pipelined requests still buffered they are served first
   * (writes may still work on a half-closed connection); otherwise the client is gone, as nginx
   * also judges it.
   */
  readonly #onClientEnd = (): void => {
    if (this.sock.buffered > 0 && this.#bodyState !== BodyState.Pumping) return;
    this.#onClientGone();
  };

  #routeFor(host: string | null): HostRoute {
    if (host !== this.#lastHost) {
      this.#lastRoute = parseHostRoute(host, this.#settings.domain);
      this.#lastHost = host;
    }
    return this.#lastRoute;
  }

  #signal(): AbortSignal {
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  // ---- one request ---------------------------------------------------------------------------

  /**
   * Serves one request: routes on Host, resolves the target (waking it), forwards, relays the
   * answer. True when the connection may carry the next request.
   */
  async #serve(head: RequestHead): Promise<boolean> {
    const sock = this.sock;
    const settings = this.#settings;
    const base = sock.start;
    const route = this.#routeFor(head.host);
    sock.start += head.headLength;
    this.#isTimedOut = false;
    this.#sentContinue = false;
    this.#bodyState = head.framing.kind === "none" || isZeroLength(head)
      ? BodyState.Consumed
      : BodyState.Unread;
    if (route.kind === "invalid") return await this.#answer(head, invalidHostPage(route.reason));
    const isBuiltin = route.kind === "builtin";
    if (isBuiltin && settings.fallback === undefined) {
      return await this.#answer(head, plainPage(404, "Not found"));
    }
    const isUpgrade = head.upgrade !== null && head.framing.kind === "none";
    // Built now, while the head's bytes are certainly still in place in the buffer.
    const upHead = forwardRequestHead(sock.buf.subarray(base, base + head.headLength), head, {
      clientIp: this.clientIp,
      proto: settings.proto,
      trustForwardedFor: !isBuiltin && settings.trustForwardedFor,
      isUpgrade,
      dropExpect: head.expectsContinue,
      defaultHost: settings.fallbackHost,
      cache: this.#forwardedCache,
    }, this.#headOut);
    // A read stays pending from here on: it notices the client leaving (wake, slow response).
    sock.watch();
    let target: Target | null = null;
    if (route.kind === "direct" || route.kind === "weighted") {
      try {
        target = await this.#resolve(route, head);
      } catch (error) {
        return await this.#answerResolveFailure(head, error);
      }
      if (this.#isGone) return false;
    }

    // Forward, holding the target's activity until the response is delivered or the client is
    // gone. All in this one async function for the common exchange (every extra async frame
    // per request costs measurable throughput); helpers only for the rarer parts.
    const front = this.#front;
    // Precise time only for the metrics hook; deadlines use the coarse clock.
    const started = settings.onProxied === undefined ? 0 : performance.now();
    let release = target === null ? null : settings.resolver.beginRequest(target);
    const timeoutMs = target === null ? settings.fallbackTimeoutMs : target.requestTimeoutMs;
    this.upstreamDeadline = Number.isFinite(timeoutMs) && timeoutMs > 0
      ? front.deadline(timeoutMs)
      : 0;
    let hasWaitedForRestart = false;
    try {
      attempts: for (let attempt = 0; attempt < 5; attempt++) {
        // A connection: pooled, else new (after waiting for a restart when refused).
        let up = this.#dialer.takePooled(target);
        const isReused = up !== undefined;
        if (up === undefined) {
          try {
            up = await this.#connect(target);
          } catch (error) {
            const mayWaitForRestart = !this.#isGone && isRetryable({
              stage: "connect",
              isInstance: target !== null,
              isTimedOut: this.#isTimedOut,
              hasWaitedForRestart,
            });
            if (mayWaitForRestart && target !== null) {
              hasWaitedForRestart = true;
              const next = await this.#waitForRestart(target);
              if (next !== undefined && !this.#isGone && !this.#isTimedOut) {
                release?.();
                target = next;
                release = settings.resolver.beginRequest(target);
                continue attempts;
              }
            }
            return await this.#failAttempt(head, target, started, error);
          }
        }
        this.#upstream = up;
        let isReusable = false;
        let pump: Promise<PumpResult> | null = null;
        try {
          if (this.#isGone) return false;
          // The head, plus the whole body when it is small and here already, in one write.
          const bodyFraming = head.framing;
          let first = upHead;
          let bodyInFirst = 0;
          let firstScratch: Uint8Array<ArrayBuffer> | null = null;
          if (
            this.#bodyState === BodyState.Unread && bodyFraming.kind === "length" &&
            sock.buffered >= bodyFraming.length &&
            upHead.length + bodyFraming.length <= SCRATCH_BYTES
          ) {
            const length = bodyFraming.length;
            firstScratch = front.takeScratch();
            firstScratch.set(upHead, 0);
            firstScratch.set(sock.buf.subarray(sock.start, sock.start + length), upHead.length);
            first = firstScratch.subarray(0, upHead.length + length);
            bodyInFirst = length;
          }
          try {
            const n = await up.conn.write(first);
            if (n < first.length) await up.writeAll(first.subarray(n));
          } catch (error) {
            const mayRetry = !this.#isGone && isRetryable({
              stage: "send",
              isReusedConnection: isReused,
              isTimedOut: this.#isTimedOut,
              isRequestReplayable: this.#bodyState === BodyState.Consumed || bodyInFirst > 0,
            });
            if (mayRetry) continue attempts;
            return await this.#failAttempt(head, target, started, error);
          }
          if (firstScratch !== null) front.giveScratch(firstScratch);
          if (bodyInFirst > 0) {
            sock.start += bodyInFirst;
            this.#bodyState = BodyState.Consumed;
          }
          if (this.#bodyState === BodyState.Unread) {
            if (head.expectsContinue && sock.buffered === 0) {
              this.#sentContinue = true;
              if (!(await this.writeClient(CONTINUE_BYTES))) return false;
            }
            this.#bodyState = BodyState.Pumping;
            pump = this.#pumpBody(up, head);
          }

          // The response head; interim 1xx responses go on to HTTP/1.1 clients.
          const response = this.#response;
          let hasResponseBytes = false;
          let interim = 0;
          for (;;) {
            if (up.buffered > 0 && scanResponseHead(up.unread(), head.method, response)) {
              if (response.status >= 200 || response.status === 101) break;
              const isOurs = response.status === 100 && this.#sentContinue;
              if (head.minorVersion === 1 && !isOurs && ++interim <= MAX_INTERIM_RESPONSES) {
                const bytes = up.buf.slice(up.start, up.start + response.headLength);
                if (!(await this.writeClient(bytes))) return false;
              }
              up.start += response.headLength;
              continue;
            }
            await up.fill();
            if (up.isEnded) {
              if (this.#isGone) return false;
              // The pump may have changed it meanwhile, which the compiler cannot see.
              if ((this.#bodyState as BodyState) === BodyState.Broken && !sock.isEnded) {
                return await this.#failBadBody(head, target, started);
              }
              // A pooled connection that was closed meanwhile: nothing was seen, try another.
              const mayRetry = isRetryable({
                stage: "response",
                isReusedConnection: isReused,
                isTimedOut: this.#isTimedOut,
                isBodySent: pump !== null || bodyInFirst > 0,
                hasResponseBytes,
              });
              if (mayRetry) continue attempts;
              const error = new Error("connection closed before a response head");
              return await this.#failAttempt(head, target, started, error);
            }
            hasResponseBytes = true;
          }
          this.upstreamDeadline = 0;
          if (target !== null) {
            settings.onProxied?.(target, response.status, performance.now() - started);
          }
          if (response.status === 101) {
            if (!isUpgrade) {
              logUpstreamFailure(target, new Error("101 Switching Protocols without an upgrade"));
              return await this.#failAfterHead(head, badGatewayPage());
            }
            await spliceUpgrade(this, up);
            return false;
          }
          // The common case inline: head passed through untouched, body (if any) already here.
          const setCookie = target?.setCookie;
          if (
            canPassThroughInline(
              response,
              up.buffered,
              head,
              front.isShuttingDown,
              pump !== null,
              setCookie,
            )
          ) {
            const end = up.start + response.headLength +
              (response.framing === "length" ? response.contentLength : 0);
            this.#isResponseStarted = true;
            this.writeDeadline = front.deadline(settings.sendTimeoutMs);
            try {
              const out = up.buf.subarray(up.start, end);
              const n = await sock.conn.write(out);
              if (n < out.length) await sock.writeAll(out.subarray(n));
            } catch {
              this.#onClientGone();
              return false;
            } finally {
              this.writeDeadline = 0;
            }
            up.start = end;
            isReusable = response.isKeepAlive && up.start === up.end;
            return !this.#isGone;
          }
          const relayed = await this.#relay(up, head, response, setCookie, pump);
          isReusable = relayed.isUpstreamKept;
          return relayed.isClientKept;
        } catch (error) {
          // A response the front cannot frame, or a socket failure on the way.
          if (!this.#isGone) logUpstreamFailure(target, error);
          if (this.#isResponseStarted || this.#isGone) return false;
          return await this.#fail(head, target, started, badGatewayPage());
        } finally {
          this.#isResponseStarted = false;
          this.#upstream = null;
          if (this.#bodyState === BodyState.Pumping) {
            // The exchange ended before the request body did: drop the rest for a moment.
            up.close();
            this.#lingerUntil = front.deadline(LINGER_MS);
            this.readDeadline = this.#lingerUntil;
          }
          if (pump !== null && (await pump) !== PumpResult.Done) isReusable = false;
          this.#lingerUntil = 0;
          front.pool.release(up, isReusable && !this.#isGone, front.nowMs);
        }
      }
      return await this.#fail(head, target, started, badGatewayPage());
    } finally {
      this.upstreamDeadline = 0;
      release?.();
    }
  }

  /**
   * The resolver's target for `route`, waking it. Returns the resolver's promise as it is, so the
   * request path gains no async frame.
   */
  #resolve(
    route: Extract<HostRoute, { kind: "direct" | "weighted" }>,
    head: RequestHead,
  ): Promise<Target> {
    const resolver = this.#settings.resolver;
    return route.kind === "direct"
      ? resolver.resolveDirect(route.service, route.id, this.#signal())
      : resolver.resolveWeighted(
        route.service,
        this.#signal(),
        readStickyId(cookieOf(head), route.service),
      );
  }

  /** No target for the request (unknown, forbidden, cannot start): 404, 403 or 503. */
  async #answerResolveFailure(head: RequestHead, error: unknown): Promise<boolean> {
    if (this.#isGone) return false;
    const page = resolveFailurePage(error, { accept: fieldValue(head, "accept") });
    if (page.status === 503) {
      log.warn("Cannot serve {host}{target}: {error}", {
        host: head.host,
        target: head.target,
        error: messageOf(error),
      });
    }
    return await this.#answer(head, page);
  }

  /** The resolver's wait for a restarted target, interruptible by the request timeout. */
  async #waitForRestart(target: Target): Promise<Target | undefined> {
    const timeout = new AbortController();
    this.#interrupt = () => timeout.abort();
    try {
      const signal = AbortSignal.any([this.#signal(), timeout.signal]);
      return await this.#settings.resolver.waitForRestart(target, signal);
    } catch {
      return undefined;
    } finally {
      this.#interrupt = null;
    }
  }

  /** Connects to the target (Unix socket first when preferred), interruptible by timeout/abort. */
  async #connect(target: Target | null): Promise<UpstreamSocket> {
    const pool = this.#front.pool;
    const connecting = this.#dialer.open(target);
    const interrupted = Promise.withResolvers<never>();
    interrupted.promise.catch(() => {});
    this.#interrupt = () => interrupted.reject(new Error("interrupted"));
    try {
      if (this.#isGone || this.#isTimedOut) this.#interrupt();
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
  async #relay(
    up: UpstreamSocket,
    head: RequestHead,
    response: ResponseHeadScan,
    setCookie: string | undefined,
    pump: Promise<PumpResult> | null,
  ): Promise<RelayResult> {
    const scratch = this.#front.takeScratch();
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
      this.#front.giveScratch(scratch);
    }
  }

  /** Runs the body pump and records where the body stands when it ends. */
  async #pumpBody(up: UpstreamSocket, head: RequestHead): Promise<PumpResult> {
    const scratch = this.#front.takeScratch();
    let result: PumpResult;
    try {
      result = await pumpRequestBody(this, up, head, scratch);
    } catch (error) {
      // Never rejects: nothing awaits the pump until the response is read.
      log.error("Unexpected error sending a request body: {error}", { error: String(error) });
      up.close();
      result = PumpResult.BadBody;
    } finally {
      this.#front.giveScratch(scratch);
    }
    this.#bodyState = result === PumpResult.Done || result === PumpResult.Dropped
      ? BodyState.Consumed
      : BodyState.Broken;
    this.sock.watch();
    return result;
  }

  /** An attempt failed for good (connect, send, or no response head): 504 past the timeout, else 502. */
  async #failAttempt(
    head: RequestHead,
    target: Target | null,
    started: number,
    error: unknown,
  ): Promise<boolean> {
    if (this.#isGone) return false;
    if (this.#isTimedOut) return await this.#fail(head, target, started, gatewayTimeoutPage());
    logUpstreamFailure(target, error);
    return await this.#fail(head, target, started, badGatewayPage());
  }

  /** Answers with `page` after the forwarding began (502/504). */
  async #fail(
    head: RequestHead,
    target: Target | null,
    started: number,
    page: ErrorPage,
  ): Promise<boolean> {
    this.upstreamDeadline = 0;
    if (target !== null) {
      this.#settings.onProxied?.(target, page.status, performance.now() - started);
    }
    return await this.#failAfterHead(head, page);
  }

  async #failAfterHead(head: RequestHead, page: ErrorPage): Promise<boolean> {
    this.#upstream?.close();
    return await this.#answer(head, page);
  }

  /**
   * Answers `page` (an error). An unread body is skipped when it is all buffered; otherwise the
   * connection closes (after draining it for a moment, so the answer is not lost to a reset).
   */
  async #answer(head: RequestHead, page: ErrorPage): Promise<boolean> {
    if (this.#isGone) return false;
    const answer = planErrorAnswer(head, page, {
      body: bodyStandingOf(this.#bodyState),
      bufferedBytes: this.sock.buffered,
      isShuttingDown: this.#front.isShuttingDown,
    });
    if (answer.skipBodyBytes !== null) {
      this.sock.start += answer.skipBodyBytes;
      this.#bodyState = BodyState.Consumed;
    }
    if (answer.needsLinger) this.#needsLinger = true;
    return (await this.writeClient(answer.bytes)) && answer.canKeep;
  }

  /** The chunked request body was malformed: 400, and the connection closes. */
  async #failBadBody(head: RequestHead, target: Target | null, started: number): Promise<boolean> {
    if (target !== null) this.#settings.onProxied?.(target, 400, performance.now() - started);
    await this.writeClient(
      serializeErrorPage(malformedRequestPage(), { isHead: head.method === "HEAD", isClose: true }),
    );
    return false;
  }

  /** Writes to the client; false when it is gone (then everything for it stops). */
  writeClient(bytes: Uint8Array): Promise<boolean> {
    if (this.#isGone) return RESOLVED_FALSE;
    this.writeDeadline = this.#front.deadline(this.#settings.sendTimeoutMs);
    return this.sock.writeAll(bytes).then(this.#onClientWritten, this.#onClientWriteFailed);
  }

  // Bound once: every response goes through these.
  readonly #onClientWritten = (): boolean => {
    this.writeDeadline = 0;
    return true;
  };

  readonly #onClientWriteFailed = (): boolean => {
    this.writeDeadline = 0;
    this.#onClientGone();
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

function isZeroLength(head: RequestHead): boolean {
  return head.framing.kind === "length" && head.framing.length === 0;
}

function cookieOf(head: RequestHead): string | null {
  let cookie: string | null = null;
  for (const field of head.headers) {
    if (field.name === "cookie") {
      cookie = cookie === null ? field.value : `${cookie}; ${field.value}`;
    }
  }
  return cookie;
}

function logUpstreamFailure(target: Target | null, error: unknown): void {
  log.warn("Upstream {key} failed: {error}", {
    key: target === null ? "(tenement API)" : formatInstanceKey(target),
    error: messageOf(error),
  });
}
