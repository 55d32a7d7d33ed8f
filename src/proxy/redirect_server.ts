/**
 * The plain-HTTP listener of HTTPS mode: it answers ACME HTTP-01 challenges
 * (`GET /.well-known/acme-challenge/{token}`, for any Host, before anything else) and sends every
 * other request to the same host, path and query over HTTPS with a 308. It never proxies.
 *
 * It reads one request head per connection with the front's strict parser
 * (`http1_request.ts`), answers and closes, rather than running `Deno.serve`: the head's size and
 * the connection's time are bounded exactly (8 KiB, 10 s), requests the front would refuse are
 * refused here the same way, and there is no keep-alive or body to get wrong on a listener that
 * only ever answers once per visit. A Location is only ever built from a Host that is a DNS name
 * or an IP literal and an origin-form path of visible ASCII; anything else is a 400, so no header
 * can be injected and no scheme-relative or foreign URL can be produced. Edge: sockets.
 * @module
 */
import type { ChallengeResponder } from "../tls/tls_types.ts";
import { parseRequestHead, type RequestHead } from "./http1_request.ts";

/** Options for {@linkcode startRedirectServer}. */
export interface RedirectServerOptions {
  /** Bind address. @default {"0.0.0.0"} */
  readonly hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** The HTTPS port redirects point to (omitted from the URL when 443). */
  readonly httpsPort: number;
  readonly challenges: ChallengeResponder;
  /** Called once listening. */
  readonly onListen?: (addr: Deno.NetAddr) => void;
  /** Time a connection gets to send its request head. @default {10000} */
  readonly headTimeoutMs?: number;
  /** Connections beyond this are closed on accept. @default {1000} */
  readonly maxConnections?: number;
  /**
   * Connections one client address may hold at once; more are closed on accept, so one client
   * cannot take every slot and starve the certificate authority's HTTP-01 validation.
   * @default {32}
   */
  readonly maxConnectionsPerClient?: number;
}

/** A running redirect listener. Disposing it shuts it down. */
export interface RedirectServer extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  /** Stops accepting, closes connections still waiting for a head, waits for the rest. */
  shutdown(): Promise<void>;
}

/** An answer: status, extra header fields and a short body. */
export interface RedirectAnswer {
  readonly status: 200 | 308 | 400 | 404;
  readonly fields: readonly (readonly [string, string])[];
  readonly body: string;
}

/** Largest request head read. */
export const MAX_REDIRECT_HEAD_BYTES = 8 * 1024;
const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
/** A DNS name (labels of letters, digits, `-`, `_`), optional trailing dot, optional port. */
const NAME_HOST = /^((?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63})\.?(?::(\d{1,5}))?$/;
/** A bracketed IPv6 literal, optional port. */
const IPV6_HOST = /^(\[[0-9a-f:.]{2,45}\])(?::(\d{1,5}))?$/;
/** Visible ASCII only: what may go into a Location unchanged. */
const SAFE_TARGET = /^\/[\x21-\x7e]*$/;
const LINGER_MS = 2_000;
const MAX_LINGER_BYTES = 64 * 1024;

const STATUS_TEXT = {
  200: "OK",
  308: "Permanent Redirect",
  400: "Bad Request",
  404: "Not Found",
} as const;

/**
 * The host part of a redirect for a Host value: lower case, without port or trailing dot; null
 * when it is not a DNS name or an IP literal (then there is nothing safe to redirect to).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(redirectHostOf("Alice.Notes.Example.com:80"), "alice.notes.example.com");
 * equal(redirectHostOf("evil.com/x"), null);
 * ```
 */
export function redirectHostOf(host: string | null): string | null {
  if (host === null) return null;
  const value = host.toLowerCase();
  const match = NAME_HOST.exec(value) ?? IPV6_HOST.exec(value);
  if (match === null) return null;
  if (match[2] !== undefined && Number(match[2]) > 65_535) return null;
  const name = match[1]!;
  return name.length > 253 ? null : name;
}

/** The answer to one request head (pure). */
export function planRedirectAnswer(
  head: RequestHead,
  httpsPort: number,
  challenges: ChallengeResponder,
): RedirectAnswer {
  const path = head.target.split("?", 1)[0]!;
  if ((head.method === "GET" || head.method === "HEAD") && path.startsWith(CHALLENGE_PREFIX)) {
    const token = path.slice(CHALLENGE_PREFIX.length);
    const keyAuthorization = TOKEN.test(token) ? challenges.keyAuthorization(token) : undefined;
    return keyAuthorization === undefined ? text(404, "Not found\n") : text(200, keyAuthorization);
  }
  const host = redirectHostOf(head.host);
  if (host === null) return text(400, "Bad request: missing or invalid Host\n");
  const target = head.target === "*" ? "/" : head.target;
  if (!SAFE_TARGET.test(target)) return text(400, "Bad request: invalid request target\n");
  const location = `https://${host}${httpsPort === 443 ? "" : `:${httpsPort}`}${target}`;
  return { status: 308, fields: [["Location", location]], body: `Redirecting to ${location}\n` };
}

function text(status: 200 | 400 | 404, body: string): RedirectAnswer {
  return { status, fields: [], body };
}

/** The bytes of an answer (no body for HEAD); the connection closes after it. */
export function serializeRedirectAnswer(answer: RedirectAnswer, isHead: boolean): Uint8Array {
  const body = new TextEncoder().encode(answer.body);
  let head = `HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status]}\r\n`;
  for (const [name, value] of answer.fields) head += `${name}: ${value}\r\n`;
  head += "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  const headBytes = new TextEncoder().encode(head);
  if (isHead) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}

/** Starts the redirect listener. */
export function startRedirectServer(options: RedirectServerOptions): RedirectServer {
  return new Redirector(options);
}

class Redirector implements RedirectServer {
  readonly addr: Deno.NetAddr;
  readonly #options: RedirectServerOptions;
  readonly #listener: Deno.TcpListener;
  /** Live connections; true once answering (shutdown lets those finish). */
  readonly #conns = new Map<Deno.TcpConn, boolean>();
  readonly #tasks = new Set<Promise<void>>();
  /** Live connections per client address. */
  readonly #perClient = new Map<string, number>();
  readonly #acceptLoop: Promise<void>;
  #shutdown: Promise<void> | null = null;

  constructor(options: RedirectServerOptions) {
    this.#options = options;
    this.#listener = Deno.listen({
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port,
      transport: "tcp",
    });
    this.addr = this.#listener.addr;
    options.onListen?.(this.addr);
    this.#acceptLoop = this.#accept();
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#drain();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #drain(): Promise<void> {
    closeQuietly(this.#listener);
    await this.#acceptLoop;
    for (const [conn, isAnswering] of this.#conns) if (!isAnswering) closeQuietly(conn);
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    const maxConnections = this.#options.maxConnections ?? 1_000;
    const maxPerClient = this.#options.maxConnectionsPerClient ?? 32;
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#shutdown !== null || error instanceof Deno.errors.BadResource) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const client = conn.remoteAddr.hostname;
      const ofClient = this.#perClient.get(client) ?? 0;
      if (this.#conns.size >= maxConnections || ofClient >= maxPerClient) {
        closeQuietly(conn);
        continue;
      }
      this.#perClient.set(client, ofClient + 1);
      this.#conns.set(conn, false);
      const task: Promise<void> = this.#serve(conn).finally(() => {
        const left = (this.#perClient.get(client) ?? 1) - 1;
        if (left > 0) this.#perClient.set(client, left);
        else this.#perClient.delete(client);
        this.#conns.delete(conn);
        this.#tasks.delete(task);
        closeQuietly(conn);
      });
      this.#tasks.add(task);
    }
  }

  /** Reads one head, answers, then drops what the client still sends for a moment and closes. */
  async #serve(conn: Deno.TcpConn): Promise<void> {
    let timer = setTimeout(() => closeQuietly(conn), this.#options.headTimeoutMs ?? 10_000);
    try {
      const buf = new Uint8Array(MAX_REDIRECT_HEAD_BYTES);
      let end = 0;
      let answer: Uint8Array | null = null;
      while (answer === null) {
        if (end === buf.length) {
          answer = serializeRedirectAnswer(text(400, "Bad request: head too large\n"), false);
          break;
        }
        const n = await conn.read(buf.subarray(end));
        if (n === null) return;
        end += n;
        let head: RequestHead | null;
        try {
          head = parseRequestHead(buf.subarray(0, end), { maxHeadBytes: buf.length });
        } catch {
          answer = serializeRedirectAnswer(text(400, "Bad request\n"), false);
          break;
        }
        if (head !== null) {
          const plan = planRedirectAnswer(head, this.#options.httpsPort, this.#options.challenges);
          answer = serializeRedirectAnswer(plan, head.method === "HEAD");
        }
      }
      this.#conns.set(conn, true);
      clearTimeout(timer);
      timer = setTimeout(() => closeQuietly(conn), LINGER_MS);
      for (let written = 0; written < answer.length;) {
        written += await conn.write(answer.subarray(written));
      }
      // Closing with unread request bytes would reset the connection and could lose the answer.
      await conn.closeWrite();
      for (let dropped = 0; dropped < MAX_LINGER_BYTES;) {
        const n = await conn.read(buf);
        if (n === null) break;
        dropped += n;
      }
    } catch {
      // The client left, or a deadline closed the connection.
    } finally {
      clearTimeout(timer);
    }
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
