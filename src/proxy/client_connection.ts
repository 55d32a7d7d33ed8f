/**
 * One client connection of the raw front: its request loop. It reads requests in order (strictly,
 * `http1_request.ts`), routes each on Host, asks the resolver for a target (which wakes
 * instances) and forwards it over a pooled upstream connection. The common exchange (a response
 * whose head passes untouched and whose body is already buffered) is served inline in one async
 * function, `#serve`: every extra async frame per request costs measurable throughput, so only the
 * rarer steps are helpers. The connection's state, deadlines, error answers and those helpers are
 * in `client_connection_base.ts`; relaying other responses (`response_relay.ts`), sending request
 * bodies (`body_pump.ts`) and upgrades (`upgrade_splice.ts`) are separate. Edge: sockets and
 * logging.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type HostRoute, parseHostRoute } from "../core/host_route.ts";
import { PumpResult } from "./body_pump.ts";
import { BodyState, ClientConnectionBase, logUpstreamFailure } from "./client_connection_base.ts";
import { LINGER_MS, lingerBeforeClose } from "./error_answer.ts";
import {
  badGatewayPage,
  CONTINUE_BYTES,
  invalidHostPage,
  malformedRequestPage,
  plainPage,
  serializeErrorPage,
} from "./error_responses.ts";
import { canPassThroughInline, isSafeMethod, recoveryOf } from "./exchange_rules.ts";
import { SCRATCH_BYTES } from "./front_settings.ts";
import {
  type ForwardedLinesCache,
  forwardRequestHead,
  incomingForwardedFor,
  newForwardedLinesCache,
} from "./head_rewrite.ts";
import { parseRequestHead, type RequestHead, RequestParseError } from "./http1_request.ts";
import { newResponseHeadScan, type ResponseHeadScan, scanResponseHead } from "./http1_response.ts";
import type { Target } from "./target.ts";
import { spliceUpgrade } from "./upgrade_splice.ts";

const log = getLogger(["tenement", "proxy"]);

const MAX_INTERIM_RESPONSES = 10;

/** One client connection and the request being served on it. */
export class ClientConnection extends ClientConnectionBase {
  // Per-connection memos: keep-alive requests usually repeat the Host and the target.
  #lastHost: string | null | undefined = undefined;
  #lastRoute: HostRoute = { kind: "builtin" };
  readonly #forwardedCache: ForwardedLinesCache = newForwardedLinesCache();
  readonly #headOut = new Uint8Array(4096);
  readonly #response: ResponseHeadScan = newResponseHeadScan();
  /** This front sent `100 Continue` for the request (the upstream's own is not passed on). */
  #hasSentContinue = false;
  /** How long to wait for a request while nothing is buffered: first the first-byte timeout. */
  #idleWaitMs = this.settings.firstByteTimeoutMs;

  /** Serves requests in order until the connection ends. */
  async run(): Promise<void> {
    const sock = this.sock;
    const settings = this.settings;
    try {
      for (;;) {
        // Read the next request head (bytes of pipelined requests may be buffered already).
        let head: RequestHead | null = null;
        let scanned = 0;
        this.isIdle = sock.buffered === 0;
        this.readDeadline = this.front.deadline(
          this.isIdle ? this.#idleWaitMs : settings.headTimeoutMs,
        );
        try {
          for (;;) {
            if (sock.buffered > 0) {
              if (this.isIdle) {
                this.isIdle = false;
                this.readDeadline = this.front.deadline(settings.headTimeoutMs);
              }
              head = parseRequestHead(sock.unread(), { searchFrom: scanned });
              if (head !== null) break;
              scanned = sock.buffered;
            }
            if (this.isIdle && this.front.isShuttingDown) return;
            await sock.fill();
            if (sock.isEnded) return;
          }
        } catch (error) {
          if (!(error instanceof RequestParseError)) throw error;
          this.needsLinger = true;
          await this.writeClient(serializeErrorPage(malformedRequestPage(), { isClose: true }));
          return;
        }
        this.readDeadline = 0;
        this.isIdle = false;
        this.#idleWaitMs = settings.idleTimeoutMs;
        if (!(await this.#serve(head))) return;
        if (this.isClientGone || this.front.isShuttingDown) return;
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
      if (this.needsLinger && !this.isClientGone) {
        await lingerBeforeClose(this, this.front.deadline(LINGER_MS));
      }
      sock.close();
    }
  }

  #routeFor(host: string | null): HostRoute {
    if (host !== this.#lastHost) {
      this.#lastRoute = parseHostRoute(host, this.settings.domain);
      this.#lastHost = host;
    }
    return this.#lastRoute;
  }

  // ---- one request ---------------------------------------------------------------------------

  /**
   * Serves one request: routes on Host, resolves the target (waking it), forwards, relays the
   * answer. True when the connection may carry the next request.
   */
  async #serve(head: RequestHead): Promise<boolean> {
    const sock = this.sock;
    const settings = this.settings;
    const headStart = sock.start;
    const route = this.#routeFor(head.host);
    sock.start += head.headLength;
    this.isTimedOut = false;
    this.#hasSentContinue = false;
    this.bodyState = head.framing.kind === "none" || isZeroLength(head)
      ? BodyState.Consumed
      : BodyState.Unread;
    if (route.kind === "invalid") return await this.answer(head, invalidHostPage(route.reason));
    if (route.kind === "unknown") return await this.answer(head, plainPage(404, "Not found"));
    const isBuiltin = route.kind === "builtin";
    if (isBuiltin && settings.fallback === undefined) {
      return await this.answer(head, plainPage(404, "Not found"));
    }
    const isUpgrade = head.upgrade !== null && head.framing.kind === "none";
    // A trusted proxy's list is kept for instances; tenement's own hosts get the client it
    // names alone (which may change per request: no cached lines). Anyone else's is replaced.
    const isClientNamed = this.isTrustedPeer && isBuiltin;
    // Built now, while the head's bytes are certainly still in place in the buffer.
    const upHead = forwardRequestHead(
      sock.buf.subarray(headStart, headStart + head.headLength),
      head,
      {
        clientIp: isClientNamed
          ? settings.trustedProxies.clientOf(this.clientIp, incomingForwardedFor(head))
          : this.clientIp,
        proto: settings.proto,
        trustForwardedFor: this.isTrustedPeer && !isBuiltin,
        isUpgrade,
        dropExpect: head.expectsContinue,
        defaultHost: settings.fallbackHost,
        cache: isClientNamed ? undefined : this.#forwardedCache,
      },
      this.#headOut,
    );
    // A read stays pending from here on: it notices the client leaving (wake, slow response).
    sock.watch();
    let target: Target | null = null;
    if (route.kind === "direct" || route.kind === "weighted") {
      try {
        target = await this.resolve(route, head);
      } catch (error) {
        return await this.answerResolveFailure(head, error);
      }
      if (this.isClientGone) return false;
    }

    // Forward, holding the target's activity until the response is delivered or the client is
    // gone. All in this one async function for the common exchange (every extra async frame
    // per request costs measurable throughput); helpers only for the rarer parts.
    const front = this.front;
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
        let up = this.dialer.takePooled(target);
        const isReused = up !== undefined;
        if (up === undefined) {
          try {
            up = await this.connect(target);
          } catch (error) {
            const recovery = this.isClientGone ? "fail" : recoveryOf({
              stage: "connect",
              isInstance: target !== null,
              isTimedOut: this.isTimedOut,
              hasWaitedForRestart,
            });
            const next = await this.restartedTarget(target, recovery);
            if (next !== undefined) {
              release = this.switchRequest(release, next);
              [target, hasWaitedForRestart] = [next, true];
              continue attempts;
            }
            return await this.failAttempt(head, target, started, error);
          }
        }
        this.upstream = up;
        let isReusable = false;
        let pump: Promise<PumpResult> | null = null;
        try {
          if (this.isClientGone) return false;
          // The head, plus the whole body when it is small and here already, in one write.
          const bodyFraming = head.framing;
          let first = upHead;
          let bodyInFirst = 0;
          let firstScratch: Uint8Array<ArrayBuffer> | null = null;
          if (
            this.bodyState === BodyState.Unread && bodyFraming.kind === "length" &&
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
            const written = await up.conn.write(first);
            if (written < first.length) await up.writeAll(first.subarray(written));
          } catch (error) {
            const mayRetry = !this.isClientGone && recoveryOf({
                  stage: "send",
                  isReusedConnection: isReused,
                  isTimedOut: this.isTimedOut,
                  isRequestReplayable: this.bodyState === BodyState.Consumed || bodyInFirst > 0,
                }) === "retry";
            if (mayRetry) continue attempts;
            return await this.failAttempt(head, target, started, error);
          }
          if (firstScratch !== null) front.giveScratch(firstScratch);
          if (bodyInFirst > 0) {
            sock.start += bodyInFirst;
            this.bodyState = BodyState.Consumed;
          }
          if (this.bodyState === BodyState.Unread) {
            if (head.expectsContinue && sock.buffered === 0) {
              this.#hasSentContinue = true;
              if (!(await this.writeClient(CONTINUE_BYTES))) return false;
            }
            this.bodyState = BodyState.Pumping;
            pump = this.pumpBody(up, head);
          }

          // The response head; interim 1xx responses go on to HTTP/1.1 clients.
          const response = this.#response;
          let hasResponseBytes = false;
          let interim = 0;
          for (;;) {
            if (up.buffered > 0 && scanResponseHead(up.unread(), head.method, response)) {
              if (response.status >= 200 || response.status === 101) break;
              const isOurs = response.status === 100 && this.#hasSentContinue;
              if (head.minorVersion === 1 && !isOurs && ++interim <= MAX_INTERIM_RESPONSES) {
                const bytes = up.buf.slice(up.start, up.start + response.headLength);
                if (!(await this.writeClient(bytes))) return false;
              }
              up.start += response.headLength;
              continue;
            }
            await up.fill();
            if (up.isEnded) {
              if (this.isClientGone) return false;
              // The pump may have changed it meanwhile, which the compiler cannot see.
              if ((this.bodyState as BodyState) === BodyState.Broken && !sock.isEnded) {
                return await this.failBadBody(head, target, started);
              }
              // A pooled connection that was closed meanwhile: nothing was seen, try another.
              // A new one the instance closed unanswered: its process is dying, wait for it.
              const recovery = recoveryOf({
                stage: "response",
                isReusedConnection: isReused,
                isTimedOut: this.isTimedOut,
                isBodySent: pump !== null || bodyInFirst > 0,
                hasResponseBytes,
                isInstance: target !== null,
                isSafeMethod: isSafeMethod(head.method),
                hasWaitedForRestart,
              });
              if (recovery === "retry") continue attempts;
              const next = await this.restartedTarget(target, recovery);
              if (next !== undefined) {
                release = this.switchRequest(release, next);
                [target, hasWaitedForRestart] = [next, true];
                continue attempts;
              }
              const error = new Error("connection closed before a response head");
              return await this.failAttempt(head, target, started, error);
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
              return await this.failAfterHead(head, badGatewayPage());
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
            this.isResponseStarted = true;
            this.writeDeadline = front.deadline(settings.sendTimeoutMs);
            try {
              const out = up.buf.subarray(up.start, end);
              const written = await sock.conn.write(out);
              if (written < out.length) await sock.writeAll(out.subarray(written));
            } catch {
              this.onClientGone();
              return false;
            } finally {
              this.writeDeadline = 0;
            }
            up.start = end;
            isReusable = response.isKeepAlive && up.start === up.end;
            return !this.isClientGone;
          }
          const relayed = await this.relay(up, head, response, setCookie, pump);
          isReusable = relayed.isUpstreamKept;
          return relayed.isClientKept;
        } catch (error) {
          // A response the front cannot frame, or a socket failure on the way.
          if (!this.isClientGone) logUpstreamFailure(target, error);
          if (this.isResponseStarted || this.isClientGone) return false;
          return await this.fail(head, target, started, badGatewayPage());
        } finally {
          this.isResponseStarted = false;
          this.upstream = null;
          if (this.bodyState === BodyState.Pumping) {
            // The exchange ended before the request body did: drop the rest for a moment.
            up.close();
            this.lingerUntil = front.deadline(LINGER_MS);
            this.readDeadline = this.lingerUntil;
          }
          if (pump !== null && (await pump) !== PumpResult.Done) isReusable = false;
          this.lingerUntil = 0;
          front.pool.release(up, isReusable && !this.isClientGone, front.nowMs);
        }
      }
      return await this.fail(head, target, started, badGatewayPage());
    } finally {
      this.upstreamDeadline = 0;
      release?.();
    }
  }
}

function isZeroLength(head: RequestHead): boolean {
  return head.framing.kind === "length" && head.framing.length === 0;
}
