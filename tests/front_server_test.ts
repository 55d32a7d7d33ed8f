/**
 * Integration tests for the raw HTTP/1.1 front (`src/proxy/front_server.ts`) over real sockets:
 * real upstream servers (`Deno.serve`, raw `Deno.listen` servers for exact bytes and odd
 * behaviour, the `ok_server.py` fixture for SSE/gzip), a real WebSocket echo, and a hand-written
 * resolver (not the supervisor) that counts activity and can simulate a wake. Byte-level claims
 * use a raw client so that no HTTP library adds, drops or decodes anything.
 * @module
 */
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { NotFoundError, UnavailableError } from "../src/core/errors.ts";
import { stickyCookie } from "../src/core/sticky.ts";
import {
  type FrontServer,
  type FrontServerOptions,
  startFrontServer,
} from "../src/proxy/front_server.ts";
import type { Target, TargetResolver } from "../src/proxy/target.ts";
import {
  bodyText as text,
  closeQuietly,
  concat,
  FIXTURES,
  headerOf as header,
  latin1,
  PYTHON,
  RawClient,
  type RawExchangeResponse,
  sleep,
  waitFor,
  writeAll,
} from "../testkit/mod.ts";

const decoder = new TextDecoder();
const MIB = 1024 * 1024;
/** Upper bound that only catches a hang; no test asserts on timing otherwise. */
const HANG_MS = 10_000;

// ---- the resolver ------------------------------------------------------------------------------

interface ServiceSpec {
  port: number;
  socketPath?: string;
  requestTimeoutMs?: number;
  setCookie?: string;
}

/** A real TargetResolver over a table of services; counts activity, can delay like a wake. */
class TestResolver implements TargetResolver {
  readonly services = new Map<string, ServiceSpec>();
  begins = 0;
  ends = 0;
  resolves = 0;
  /** Resolutions wait this long first (a sleeping instance being started). */
  wakeDelayMs = 0;
  /** Resolutions fail with this instead. */
  failure: Error | null = null;
  /** What `waitForRestart` answers once (the instance came back on another port). */
  restarted: ServiceSpec | null = null;
  restartWaits = 0;
  readonly wakeAborts: unknown[] = [];

  get active(): number {
    return this.begins - this.ends;
  }

  add(service: string, spec: ServiceSpec): this {
    this.services.set(service, spec);
    return this;
  }

  async resolveDirect(service: string, id: string, signal: AbortSignal): Promise<Target> {
    this.resolves++;
    await this.#wake(signal);
    return this.#target(service, id);
  }

  async resolveWeighted(service: string, signal: AbortSignal, stickyId?: string): Promise<Target> {
    this.resolves++;
    await this.#wake(signal);
    return this.#target(service, stickyId ?? "w1");
  }

  beginRequest(_target: Target): () => void {
    this.begins++;
    let isDone = false;
    return () => {
      if (isDone) throw new Error("activity released twice");
      isDone = true;
      this.ends++;
    };
  }

  waitForRestart(target: Target, _signal: AbortSignal): Promise<Target | undefined> {
    this.restartWaits++;
    const next = this.restarted;
    this.restarted = null;
    if (next === null) return Promise.resolve(undefined);
    this.services.set(target.service, next);
    return Promise.resolve(this.#target(target.service, target.id));
  }

  async #wake(signal: AbortSignal): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.wakeDelayMs <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, this.wakeDelayMs);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        this.wakeAborts.push(signal.reason);
        reject(signal.reason);
      }, { once: true });
    });
  }

  #target(service: string, id: string): Target {
    const spec = this.services.get(service);
    if (spec === undefined) throw new NotFoundError(`Unknown service "${service}"`);
    return {
      service,
      id,
      port: spec.port,
      socketPath: spec.socketPath,
      requestTimeoutMs: spec.requestTimeoutMs ?? 5_000,
      ...(spec.setCookie === undefined ? {} : { setCookie: spec.setCookie }),
    };
  }
}

function front(
  resolver: TargetResolver,
  options: Partial<FrontServerOptions> = {},
): FrontServer {
  return startFrontServer({
    port: 0,
    hostname: "127.0.0.1",
    domain: "localhost",
    resolver,
    ...options,
  });
}

/** An echo upstream as service `service`, a front resolving to it, and one client of the front. */
async function echoFront(service = "app"): Promise<
  {
    up: EchoServer;
    resolver: TestResolver;
    server: FrontServer;
    client: RawClient;
  } & AsyncDisposable
> {
  const up = echoServer();
  const resolver = new TestResolver().add(service, { port: up.port });
  const server = front(resolver);
  const client = await RawClient.open(server.addr.port);
  return {
    up,
    resolver,
    server,
    client,
    [Symbol.asyncDispose]: async () => {
      client.close();
      await server[Symbol.asyncDispose]();
      await up[Symbol.asyncDispose]();
    },
  };
}

// ---- upstream servers --------------------------------------------------------------------------

interface Echo {
  method: string;
  url: string;
  headers: [string, string][];
  bodyLength: number;
  bodyDigest: string;
}

interface EchoServer extends AsyncDisposable {
  readonly port: number;
  /** Requests served. */
  requests: number;
  /** Distinct peer ports seen: upstream connections used. */
  readonly connections: Set<number>;
}

async function digest(bytes: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `Deno.serve` echoing the request as JSON; `/bytes?n=` answers n bytes (chunked if `chunked`). */
function echoServer(): EchoServer {
  const state = { requests: 0, connections: new Set<number>() };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req, info) => {
      state.requests++;
      state.connections.add(info.remoteAddr.port);
      const url = new URL(req.url);
      if (url.pathname === "/bytes") {
        const n = Number(url.searchParams.get("n"));
        const body = pattern(n);
        if (url.searchParams.has("chunked")) {
          return new Response(
            new ReadableStream({
              start(c) {
                for (let i = 0; i < n; i += 100_000) c.enqueue(body.slice(i, i + 100_000));
                c.close();
              },
            }),
          );
        }
        return new Response(body);
      }
      if (url.pathname === "/status") {
        const status = Number(url.searchParams.get("s"));
        return new Response(status === 204 || status === 304 ? null : "x", {
          status,
          headers: { etag: '"v1"' },
        });
      }
      const body = new Uint8Array(await req.arrayBuffer());
      const echo: Echo = {
        method: req.method,
        url: req.url,
        headers: [...req.headers],
        bodyLength: body.length,
        bodyDigest: await digest(body),
      };
      return Response.json(echo);
    },
  );
  return {
    port: server.addr.port,
    get requests() {
      return state.requests;
    },
    set requests(n: number) {
      state.requests = n;
    },
    connections: state.connections,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** n bytes of a repeating, position-dependent pattern. */
function pattern(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 10)) & 0xff;
  return out;
}

interface RawUpstream extends AsyncDisposable {
  readonly port: number;
  /** Connections accepted. */
  accepted(): number;
  /** Every byte received, per connection. */
  readonly received: Uint8Array[][];
}

/** A `Deno.listen` server; `onConnection` owns each socket, which is closed when it returns. */
function rawUpstream(
  onConnection: (conn: Deno.TcpConn, received: Uint8Array[]) => Promise<void>,
): RawUpstream {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const conns = new Set<Deno.TcpConn>();
  const handlers: Promise<void>[] = [];
  const received: Uint8Array[][] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const log: Uint8Array[] = [];
      received.push(log);
      handlers.push(
        onConnection(conn, log).catch(() => {}).finally(() => {
          conns.delete(conn);
          closeQuietly(conn);
        }),
      );
    }
  })();
  return {
    port: listener.addr.port,
    accepted: () => received.length,
    received,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      for (const conn of conns) closeQuietly(conn);
      await loop.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

/** Reads one request head (plus a Content-Length body) off a raw socket; null at EOF. */
async function readRequest(
  conn: Deno.Conn,
  state: { pending: string },
  log?: Uint8Array[],
): Promise<{ head: string; body: string } | null> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const end = state.pending.indexOf("\r\n\r\n");
    if (end !== -1) {
      const head = state.pending.slice(0, end + 4);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (state.pending.length >= end + 4 + length) {
        const body = state.pending.slice(end + 4, end + 4 + length);
        state.pending = state.pending.slice(end + 4 + length);
        return { head, body };
      }
    }
    const n = await conn.read(buf);
    if (n === null) return null;
    log?.push(buf.slice(0, n));
    state.pending += String.fromCharCode(...buf.subarray(0, n));
  }
}

/** A raw upstream answering every request on a connection with `answer(head)`. */
function scriptedUpstream(
  answer: (head: string, body: string) => string | Uint8Array,
): RawUpstream {
  return rawUpstream(async (conn, log) => {
    const state = { pending: "" };
    for (;;) {
      const request = await readRequest(conn, state, log);
      if (request === null) return;
      const reply = answer(request.head, request.body);
      await writeAll(conn, typeof reply === "string" ? latin1(reply) : reply);
    }
  });
}

interface Fixture extends AsyncDisposable {
  readonly port: number;
}

/** `tests/fixtures/ok_server.py` on a free port (SSE, gzip, slow responses). */
async function okServer(): Promise<Fixture> {
  const probe = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(PYTHON, {
    args: [`${FIXTURES}/ok_server.py`],
    env: { PORT: String(port) },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  ok(!first.done && decoder.decode(first.value).includes("listening"));
  reader.releaseLock();
  return {
    port,
    [Symbol.asyncDispose]: async () => {
      child.kill("SIGTERM");
      await child.stdout.cancel();
      await child.status;
    },
  };
}

const HOST = "alice.app.localhost";

async function get(port: number, path = "/", host = HOST): Promise<RawExchangeResponse> {
  using client = await RawClient.open(port);
  return await client.request("GET", path, [["Host", host], ["Connection", "close"]]);
}

function echoOf(res: RawExchangeResponse): Echo {
  equal(res.status, 200, text(res));
  return JSON.parse(text(res)) as Echo;
}

// ---- forwarding ---------------------------------------------------------------------------------

Deno.test("front: request heads reach the instance byte for byte, minus hop-by-hop, plus X-Forwarded-*", async () => {
  const heads: string[] = [];
  await using up = scriptedUpstream((head) => {
    heads.push(head);
    return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  });
  const resolver = new TestResolver().add("app", { port: up.port });
  // This client (127.0.0.1) is a trusted proxy: its X-Forwarded-For is kept and appended to.
  await using server = front(resolver, { trustedProxies: ["127.0.0.1"] });
  using client = await RawClient.open(server.addr.port);
  const res = await client.request("GET", "/p?q=1", [
    ["Host", "Alice.App.localhost"],
    ["Authorization", "Bearer  s3cr3t"],
    ["Cookie", "a=1;b=2"],
    ["Connection", "keep-alive, X-Hop"],
    ["X-Hop", "drop me"],
    ["Keep-Alive", "timeout=5"],
    ["TE", "trailers"],
    ["Proxy-Authorization", "Basic eA=="],
    ["X-Forwarded-For", "198.51.100.9"],
    ["X-Forwarded-Host", "evil.example"],
    ["X-Custom", "  spaced  value "],
  ]);
  equal(res.status, 200);
  equal(
    heads[0],
    "GET /p?q=1 HTTP/1.1\r\nHost: Alice.App.localhost\r\nAuthorization: Bearer  s3cr3t\r\n" +
      "Cookie: a=1;b=2\r\nX-Custom:   spaced  value \r\n" +
      "x-forwarded-for: 198.51.100.9, 127.0.0.1\r\nx-forwarded-proto: http\r\n" +
      "x-forwarded-host: Alice.App.localhost\r\n\r\n",
  );
});

Deno.test("front: bodies stream both ways (Content-Length and chunked, 1 MiB)", async (t) => {
  await using up = echoServer();
  const resolver = new TestResolver().add("app", { port: up.port });
  await using server = front(resolver);
  const body = pattern(MIB);
  const want = await digest(body);

  await t.step("Content-Length upload", async () => {
    using client = await RawClient.open(server.addr.port);
    const echo = echoOf(
      await client.request("POST", "/up", [["Host", HOST], ["Content-Length", String(MIB)]], body),
    );
    equal(echo.bodyLength, MIB);
    equal(echo.bodyDigest, want);
  });

  await t.step("chunked upload, sent in odd pieces", async () => {
    using client = await RawClient.open(server.addr.port);
    await client.send(`PUT /up HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let i = 0; i < MIB; i += 77_777) {
      const piece = body.subarray(i, Math.min(MIB, i + 77_777));
      await client.send(`${piece.length.toString(16)};ext=1\r\n`);
      await client.send(piece);
      await client.send("\r\n");
    }
    await client.send("0\r\nX-Trailer: t\r\n\r\n");
    const echo = echoOf(await client.read());
    equal(echo.method, "PUT");
    equal(echo.bodyLength, MIB);
    equal(echo.bodyDigest, want);
  });

  await t.step("Content-Length and chunked downloads", async () => {
    using client = await RawClient.open(server.addr.port);
    const fixed = await client.request("GET", `/bytes?n=${MIB}`, [["Host", HOST]]);
    equal(header(fixed, "content-length"), String(MIB));
    equal(await digest(fixed.body), want);
    const chunked = await client.request("GET", `/bytes?n=${MIB}&chunked`, [["Host", HOST]]);
    equal(header(chunked, "transfer-encoding"), "chunked");
    equal(await digest(chunked.body), want);
  });
  equal(resolver.active, 0);
});

Deno.test("front: gzip bytes pass untouched; chunked framing passes untouched; SSE streams", async (t) => {
  await using py = await okServer();
  const frames = "4;ext=a\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: yes\r\n\r\n";
  await using raw = scriptedUpstream(() =>
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Raw: 1\r\n\r\n${frames}`
  );
  const resolver = new TestResolver().add("py", { port: py.port }).add("raw", { port: raw.port });
  await using server = front(resolver);

  await t.step("gzip: same bytes as from the app itself", async () => {
    const direct = await get(py.port, "/gzip", "x");
    const proxied = await get(server.addr.port, "/gzip", "a.py.localhost");
    equal(header(proxied, "content-encoding"), "gzip");
    equal(header(proxied, "content-length"), header(direct, "content-length"));
    deepEqual(proxied.body, direct.body);
  });

  await t.step("chunked: the same chunks, extensions and trailers", async () => {
    const res = await get(server.addr.port, "/", "a.raw.localhost");
    equal(header(res, "transfer-encoding"), "chunked");
    equal(decoder.decode(res.rawBody), frames);
    equal(text(res), "abcdefg");
  });

  await t.step("SSE: the first event arrives before the stream ends", async () => {
    using client = await RawClient.open(server.addr.port);
    await client.send("GET /sse?n=2&interval_ms=800 HTTP/1.1\r\nHost: a.py.localhost\r\n\r\n");
    const started = Date.now();
    const head = decoder.decode(await readSome(client.conn, "data: 0"));
    ok(head.includes("text/event-stream"));
    ok(!head.includes("data: 1"));
    ok(Date.now() - started < 700, "the first event came before the second was even due");
    await readSome(client.conn, "0\r\n\r\n");
  });
  await waitFor(() => resolver.active === 0, {
    what: "activity released after the SSE stream",
    intervalMs: 5,
  });
});

/** Reads raw bytes until `marker` shows up. */
async function readSome(conn: Deno.Conn, marker: string): Promise<Uint8Array> {
  let all: Uint8Array = new Uint8Array(0);
  const buf = new Uint8Array(16 * 1024);
  const deadline = Date.now() + HANG_MS;
  while (!decoder.decode(all).includes(marker)) {
    if (Date.now() > deadline) throw new Error(`no ${marker}`);
    const n = await conn.read(buf);
    if (n === null) throw new Error(`ended before ${marker}`);
    all = concat([all, buf.slice(0, n)]);
  }
  return all;
}

// ---- keep-alive, pipelining, HEAD/204/304 -------------------------------------------------------

Deno.test("front: keep-alive is reused on both sides", async () => {
  await using setup = await echoFront();
  const { up, resolver, client } = setup;
  for (let i = 0; i < 20; i++) {
    const echo = echoOf(await client.request("GET", `/n${i}`, [["Host", HOST]]));
    ok(echo.url.endsWith(`/n${i}`));
  }
  equal(up.requests, 20);
  equal(up.connections.size, 1, "one upstream connection carried all 20 requests");
  equal(resolver.begins, 20);
  equal(resolver.ends, 20);
});

Deno.test("front: pipelined requests are answered in order on one connection", async () => {
  await using setup = await echoFront();
  const { client } = setup;
  await client.send(
    `GET /one HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` +
      `POST /two HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 3\r\n\r\nabc` +
      `PUT /three HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n` +
      `GET /four HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
  );
  const urls: string[] = [];
  for (let i = 0; i < 4; i++) urls.push(new URL(echoOf(await client.read()).url).pathname);
  deepEqual(urls, ["/one", "/two", "/three", "/four"]);
  ok(await client.isClosedWithin(), "Connection: close ends the connection after its answer");
});

Deno.test("front: HEAD, 204 and 304 carry no body and keep the connection usable", async () => {
  await using setup = await echoFront();
  const { client } = setup;
  const head = await client.request("HEAD", `/bytes?n=5000`, [["Host", HOST]]);
  equal(head.status, 200);
  equal(header(head, "content-length"), "5000");
  const noContent = await client.request("GET", "/status?s=204", [["Host", HOST]]);
  equal(noContent.status, 204);
  const notModified = await client.request("GET", "/status?s=304", [["Host", HOST]]);
  equal(notModified.status, 304);
  equal(header(notModified, "etag"), '"v1"');
  const after = await client.request("GET", "/after", [["Host", HOST]]);
  ok(echoOf(after).url.endsWith("/after"));
});

Deno.test("front: an HTTP/1.0 client gets a chunked response decoded, then the connection closes", async () => {
  await using raw = scriptedUpstream(() =>
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
  );
  const resolver = new TestResolver().add("app", { port: raw.port });
  await using server = front(resolver);
  using client = await RawClient.open(server.addr.port);
  await client.send(`GET / HTTP/1.0\r\nHost: ${HOST}\r\nConnection: keep-alive\r\n\r\n`);
  const all = decoder.decode(await client.readToEnd());
  ok(all.startsWith("HTTP/1.1 200 OK\r\n"), all);
  ok(!/transfer-encoding/i.test(all), all);
  ok(all.endsWith("\r\n\r\nabcde"), all);
});

Deno.test("front: hop-by-hop response fields are dropped; the client connection stays open", async () => {
  await using raw = scriptedUpstream(() =>
    "HTTP/1.0 200 OK\r\nConnection: close, X-Internal\r\nKeep-Alive: timeout=1\r\n" +
    "X-Internal: secret\r\nContent-Length: 2\r\n\r\nok"
  );
  const resolver = new TestResolver().add("app", { port: raw.port });
  await using server = front(resolver);
  using client = await RawClient.open(server.addr.port);
  for (let i = 0; i < 2; i++) {
    const res = await client.request("GET", "/", [["Host", HOST]]);
    ok(res.head.startsWith("HTTP/1.1 200 OK\r\n"), res.head);
    deepEqual(res.fields, [["content-length", "2"]]);
    equal(text(res), "ok");
  }
  equal(raw.accepted(), 2, "the upstream said close: a new upstream connection each time");
});

Deno.test("front: a pooled connection closed by the instance mid-request is retried on a new one", async () => {
  await using up = rawUpstream(async (conn, log) => {
    const state = { pending: "" };
    const index = up.accepted();
    for (let served = 0;; served++) {
      const request = await readRequest(conn, state, log);
      if (request === null) return;
      // The first connection answers once, then drops the next request unanswered: the race of
      // an instance closing an idle keep-alive connection just as a request goes out on it.
      if (index === 1 && served === 1) return;
      await writeAll(conn, latin1(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${index}`));
    }
  });
  const resolver = new TestResolver().add("app", { port: up.port });
  await using server = front(resolver);
  using client = await RawClient.open(server.addr.port);
  equal(text(await client.request("GET", "/", [["Host", HOST]])), "1");
  equal(text(await client.request("GET", "/", [["Host", HOST]])), "2");
  equal(up.accepted(), 2);
  equal(resolver.active, 0);
});

Deno.test("front: closeUpstream() drops pooled connections to a stopped instance", async () => {
  await using setup = await echoFront();
  const { up, server, client } = setup;
  await client.request("GET", "/", [["Host", HOST]]);
  await client.request("GET", "/", [["Host", HOST]]);
  equal(up.connections.size, 1);
  server.closeUpstream({ kind: "tcp", hostname: "127.0.0.1", port: up.port });
  await client.request("GET", "/", [["Host", HOST]]);
  equal(up.connections.size, 2);
});

Deno.test("front: an absolute-form target is routed by its authority", async () => {
  await using setup = await echoFront("other");
  const { client } = setup;
  const echo = echoOf(
    await client.request("GET", "http://b.other.localhost/abs?x=1", [["Host", HOST]]),
  );
  equal(new URL(echo.url).pathname + new URL(echo.url).search, "/abs?x=1");
  ok(echo.headers.some(([n, v]) => n === "host" && v === "b.other.localhost"));
});

// ---- errors ------------------------------------------------------------------------------------

Deno.test("front: errors map to 400/404/502/503/504 with the proxy's bodies", async (t) => {
  await using py = await okServer();
  const refused = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const refusedPort = refused.addr.port;
  refused.close();
  const resolver = new TestResolver()
    .add("py", { port: py.port, requestTimeoutMs: 300 })
    .add("gone", { port: refusedPort });
  await using server = front(resolver);
  const port = server.addr.port;

  await t.step("unknown service: 404", async () => {
    const res = await get(port, "/", "a.nope.localhost");
    equal(res.status, 404);
    equal(text(res), "Not found\n");
  });
  await t.step("invalid host under the domain: 400", async () => {
    const res = await get(port, "/", "a.b.c.localhost");
    equal(res.status, 400);
    ok(text(res).startsWith("Bad request: invalid host: "));
  });
  await t.step("refused connection: 502 after asking for a restart", async () => {
    const res = await get(port, "/", "a.gone.localhost");
    equal(res.status, 502);
    equal(text(res), "Bad gateway\n");
    equal(resolver.restartWaits, 1);
  });
  await t.step("no response head within request_timeout: 504", async () => {
    const res = await get(port, "/slow?ms=3000", "a.py.localhost");
    equal(res.status, 504);
    equal(text(res), "Gateway timeout\n");
  });
  await t.step("unavailable: 503 with Retry-After, HTML for browsers", async () => {
    resolver.failure = new UnavailableError("starting", 7);
    try {
      const plain = await get(port, "/", "a.py.localhost");
      equal(plain.status, 503);
      equal(header(plain, "retry-after"), "7");
      equal(text(plain), "Service temporarily unavailable\n");
      using client = await RawClient.open(port);
      const html = await client.request("GET", "/", [
        ["Host", "a.py.localhost"],
        ["Accept", "text/html,*/*"],
      ]);
      equal(html.status, 503);
      equal(header(html, "retry-after"), "7");
      ok(header(html, "content-type")?.startsWith("text/html"));
      ok(text(html).includes("Temporarily unavailable"));
      // The connection goes on after an error answer.
      resolver.failure = null;
      equal((await client.request("GET", "/health", [["Host", "a.py.localhost"]])).status, 200);
    } finally {
      resolver.failure = null;
    }
  });
  equal(resolver.active, 0);
  equal(resolver.begins, resolver.ends);
});

Deno.test("front: a refused connection is retried once the resolver reports a restart", async () => {
  await using up = echoServer();
  const refused = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const refusedPort = refused.addr.port;
  refused.close();
  const resolver = new TestResolver().add("app", { port: refusedPort });
  resolver.restarted = { port: up.port };
  await using server = front(resolver);
  const res = await get(server.addr.port, "/after-restart");
  ok(echoOf(res).url.endsWith("/after-restart"));
  equal(resolver.restartWaits, 1);
  equal(resolver.begins, 2, "activity moved to the restarted target");
  equal(resolver.ends, 2);
});

/** Smuggling attempts and other malformed requests, as sent over the wire. */
const MALFORMED: readonly [string, string][] = [
  [
    "CL and TE",
    "POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  ],
  [
    "TE and CL",
    "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
  ],
  [
    "duplicate CL",
    "POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
  ],
  [
    "conflicting CL",
    "POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
  ],
  ["CL +3", "POST / HTTP/1.1\r\nHost: H\r\nContent-Length: +3\r\n\r\nabc"],
  ["CL 3,3", "POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 3,3\r\n\r\nabc"],
  ["CL in hex", "POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 0x3\r\n\r\nabc"],
  [
    "TE gzip, chunked",
    "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
  ],
  [
    "TE chunked, identity",
    "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
  ],
  ["TE xchunked", "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: xchunked\r\n\r\n"],
  [
    "two TE lines",
    "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
  ],
  ["TE on HTTP/1.0", "POST / HTTP/1.0\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
  [
    "TE with space before colon",
    "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
  ],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: H\r\nX: a\r\n b\r\n\r\n"],
  [
    "obs-folded TE",
    "POST / HTTP/1.1\r\nHost: H\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  ],
  ["bare LF", "GET / HTTP/1.1\nHost: H\n\n"],
  ["bare CR", "GET / HTTP/1.1\r\nHost: H\r\nX: a\rb\r\n\r\n"],
  ["NUL in a value", "GET / HTTP/1.1\r\nHost: H\r\nX: a\x00b\r\n\r\n"],
  ["control character in a name", "GET / HTTP/1.1\r\nHost: H\r\nX\x01: a\r\n\r\n"],
  ["space before colon", "GET / HTTP/1.1\r\nHost : H\r\n\r\n"],
  ["no Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n"],
  ["two Hosts", "GET / HTTP/1.1\r\nHost: H\r\nHost: H\r\n\r\n"],
  ["bad version", "GET / HTTP/1.2\r\nHost: H\r\n\r\n"],
  ["bad method", "GE(T / HTTP/1.1\r\nHost: H\r\n\r\n"],
  ["bad target", "GET a b HTTP/1.1\r\nHost: H\r\n\r\n"],
  ["https absolute-form", "GET https://H/ HTTP/1.1\r\nHost: H\r\n\r\n"],
  ["oversized head", `GET / HTTP/1.1\r\nHost: H\r\nX: ${"a".repeat(70_000)}\r\n\r\n`],
  ["too many headers", `GET / HTTP/1.1\r\nHost: H\r\n${"X-A: 1\r\n".repeat(101)}\r\n`],
  [
    "malformed chunked body",
    "POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
  ],
];

Deno.test("front: smuggling attempts get 400 and never reach the instance", async (t) => {
  await using up = rawUpstream(async (conn, log) => {
    const state = { pending: "" };
    while ((await readRequest(conn, state, log)) !== null) {
      await writeAll(conn, latin1("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    }
  });
  const resolver = new TestResolver().add("app", { port: up.port });
  await using server = front(resolver);
  for (const [name, request] of MALFORMED) {
    await t.step(name, async () => {
      using client = await RawClient.open(server.addr.port);
      await client.send(request.replaceAll("Host: H", `Host: ${HOST}`));
      const res = await client.read();
      equal(res.status, 400, `${name}: ${res.head}`);
      equal(header(res, "connection"), "close");
      ok(await client.isClosedWithin(), "the connection ends after the 400");
    });
  }
  // The malformed chunked body is the one case where the head was fine: it reached the
  // instance, but never a complete request (and the answer was still 400, not the instance's).
  const complete = up.received.flat().map((b) => String.fromCharCode(...b)).join("");
  equal((complete.match(/ HTTP\/1\.1\r\n/g) ?? []).length, up.accepted() > 0 ? 1 : 0);
  ok(!complete.includes("abc"), "no byte of the malformed body was forwarded");
  equal(resolver.active, 0);
});

// ---- activity, metrics, sticky, fallback --------------------------------------------------------

Deno.test("front: activity is released exactly once per request; metrics hook sees each", async () => {
  await using up = echoServer();
  const resolver = new TestResolver().add("app", { port: up.port });
  const seen: [string, number][] = [];
  await using server = front(resolver, {
    onProxied: (target, status, durationMs) => {
      ok(durationMs >= 0);
      seen.push([target.service, status]);
    },
  });
  using client = await RawClient.open(server.addr.port);
  for (let i = 0; i < 5; i++) await client.request("GET", "/", [["Host", HOST]]);
  await client.request("GET", "/status?s=500", [["Host", HOST]]);
  await get(server.addr.port, "/", "a.unknown.localhost");
  equal(resolver.begins, 6);
  equal(resolver.ends, 6);
  deepEqual(seen.map(([, s]) => s), [200, 200, 200, 200, 200, 500]);
});

Deno.test("front: the sticky cookie is added to the response", async () => {
  await using raw = scriptedUpstream(() =>
    "HTTP/1.1 200 OK\r\nSet-Cookie: app=1\r\nContent-Length: 2\r\n\r\nok"
  );
  const cookie = stickyCookie("app", "v2");
  const resolver = new TestResolver().add("app", { port: raw.port, setCookie: cookie });
  await using server = front(resolver);
  const res = await get(server.addr.port, "/", "app.localhost");
  deepEqual(res.fields.filter(([n]) => n === "set-cookie").map(([, v]) => v), ["app=1", cookie]);
  equal(text(res), "ok");
});

Deno.test("front: tenement's own hosts go to the fallback with the client address", async () => {
  const seen: { host: string | null; xff: string | null; url: string }[] = [];
  const api = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    seen.push({
      host: req.headers.get("host"),
      xff: req.headers.get("x-forwarded-for"),
      url: req.url,
    });
    return new Response("api");
  });
  try {
    const resolver = new TestResolver();
    await using server = front(resolver, {
      fallback: { kind: "tcp", hostname: "127.0.0.1", port: api.addr.port },
    });
    using client = await RawClient.open(server.addr.port);
    const res = await client.request("GET", "/api/instances", [
      ["Host", `127.0.0.1:${server.addr.port}`],
      ["X-Forwarded-For", "6.6.6.6"],
    ]);
    equal(text(res), "api");
    const bare = await client.request("GET", "/health", [["Host", "localhost"]]);
    equal(text(bare), "api");
    deepEqual(seen.map((s) => s.xff), ["127.0.0.1", "127.0.0.1"]);
    equal(seen[0]!.host, `127.0.0.1:${server.addr.port}`);
    equal(resolver.resolves, 0);
  } finally {
    await api.shutdown();
  }
});

Deno.test("front: without a fallback tenement's own hosts get 404", async () => {
  await using server = front(new TestResolver());
  equal((await get(server.addr.port, "/", "localhost")).status, 404);
});

// ---- waking, Expect, early answers, disconnects -------------------------------------------------

Deno.test("front: a request waits for a wake; body bytes sent meanwhile are forwarded", async () => {
  await using setup = await echoFront();
  const { resolver, client } = setup;
  resolver.wakeDelayMs = 300;
  const body = pattern(200_000);
  await client.send(
    `POST /woken HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  await client.send(body.subarray(0, 1000));
  await sleep(50);
  await client.send(body.subarray(1000));
  const echo = echoOf(await client.read());
  equal(echo.bodyLength, body.length);
  equal(echo.bodyDigest, await digest(body));
});

Deno.test("front: a client that leaves during a wake aborts it and takes no activity", async () => {
  await using setup = await echoFront();
  const { up, resolver, client } = setup;
  resolver.wakeDelayMs = 5_000;
  await client.send(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  await waitFor(() => resolver.resolves === 1, { what: "the resolve to start", intervalMs: 5 });
  client[Symbol.dispose]();
  await waitFor(() => resolver.wakeAborts.length === 1, {
    what: "the wake to be aborted",
    intervalMs: 5,
  });
  equal(resolver.begins, 0);
  equal(up.requests, 0);
});

Deno.test("front: Expect: 100-continue is answered before the body is sent", async () => {
  await using setup = await echoFront();
  const { client } = setup;
  await client.send(
    `PUT /e HTTP/1.1\r\nHost: ${HOST}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`,
  );
  const interim = await client.read();
  equal(interim.status, 100);
  await client.send("hello");
  const echo = echoOf(await client.read());
  equal(echo.bodyLength, 5);
  ok(!echo.headers.some(([name]) => name === "expect"));
});

Deno.test("front: an early answer during an upload reaches the client", async () => {
  await using up = rawUpstream(async (conn) => {
    const buf = new Uint8Array(1024);
    await conn.read(buf); // Only the head: refuse without reading the body.
    await writeAll(
      conn,
      latin1(
        "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n",
      ),
    );
  });
  const resolver = new TestResolver().add("app", { port: up.port });
  await using server = front(resolver);
  using client = await RawClient.open(server.addr.port);
  await client.send(`POST /up HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${8 * MIB}\r\n\r\n`);
  const sending = (async () => {
    try {
      for (let i = 0; i < 8; i++) await client.send(pattern(MIB));
    } catch {
      // The front may close once it has answered.
    }
  })();
  const res = await client.read();
  equal(res.status, 413);
  equal(text(res), "too big\n");
  closeQuietly(client.conn);
  await sending;
  await waitFor(() => resolver.active === 0, { what: "activity released", intervalMs: 5 });
});

Deno.test("front: a client that disconnects mid-stream closes the upstream connection", async () => {
  let upstreamClosed = false;
  await using up = rawUpstream(async (conn) => {
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    await writeAll(
      conn,
      latin1(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
      ),
    );
    await writeAll(conn, latin1("9\r\ndata: 1\n\r\n"));
    // Stay silent; the front must notice the client leaving without any write failing.
    const n = await conn.read(buf).catch(() => null);
    upstreamClosed = n === null;
  });
  const resolver = new TestResolver().add("app", { port: up.port });
  await using server = front(resolver);
  const client = await RawClient.open(server.addr.port);
  await client.send(`GET /events HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  await readSome(client.conn, "data: 1");
  equal(resolver.active, 1, "the open stream counts as activity");
  client[Symbol.dispose]();
  await waitFor(() => upstreamClosed, {
    what: "the upstream connection to be closed",
    intervalMs: 5,
  });
  await waitFor(() => resolver.active === 0, { what: "activity released", intervalMs: 5 });
  equal(resolver.ends, 1);
});

// ---- timeouts ----------------------------------------------------------------------------------

Deno.test("front: slow heads and idle keep-alive connections are closed", async (t) => {
  await using up = echoServer();
  const resolver = new TestResolver().add("app", { port: up.port });
  await using server = front(resolver, { headTimeoutMs: 300, idleTimeoutMs: 400 });
  await t.step("a head trickling in (slowloris) is cut off", async () => {
    using client = await RawClient.open(server.addr.port);
    await client.send(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n`);
    const started = Date.now();
    let isClosed = false;
    for (let i = 0; i < 40 && !isClosed; i++) {
      try {
        await client.send("X-Slow: 1\r\n");
        await sleep(50);
      } catch {
        isClosed = true;
      }
    }
    ok(isClosed || (await client.isClosedWithin(2_000)), "the connection was closed");
    ok(Date.now() - started < 2_000);
    equal(up.requests, 0);
  });
  await t.step("an idle keep-alive connection is closed", async () => {
    using client = await RawClient.open(server.addr.port);
    echoOf(await client.request("GET", "/", [["Host", HOST]]));
    ok(await client.isClosedWithin(3_000));
  });
});

// ---- upgrades ----------------------------------------------------------------------------------

/** A WebSocket echo server: echoes text and binary, closes with the code the client asks for. */
function webSocketServer(): { port: number } & AsyncDisposable {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") {
      return new Response("no upgrade", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (event) => {
      if (typeof event.data === "string" && event.data.startsWith("close:")) {
        socket.close(Number(event.data.slice(6)), "bye");
        return;
      }
      socket.send(event.data);
    };
    return response;
  });
  return { port: server.addr.port, [Symbol.asyncDispose]: () => server.shutdown() };
}

function nextMessage(ws: WebSocket): Promise<MessageEvent> {
  return new Promise((resolve, reject) => {
    ws.addEventListener("message", resolve, { once: true });
    ws.addEventListener("close", () => reject(new Error("closed")), { once: true });
  });
}

Deno.test("front: WebSockets are spliced both ways: text, binary, close codes, activity", async () => {
  await using wsServer = webSocketServer();
  // A WebSocket client cannot set Host, and *.localhost does not resolve here. With the domain
  // "0.1", the host 127.0.0.1 is itself an instance route: id "127" of service "0".
  const resolver = new TestResolver().add("0", { port: wsServer.port });
  resolver.wakeDelayMs = 100; // A sleeping instance: the upgrade waits for the wake.
  await using server = front(resolver, { domain: "0.1" });
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/ws`);
  ws.binaryType = "arraybuffer";
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    equal(resolver.active, 1, "an open WebSocket counts as activity");
    const textReply = nextMessage(ws);
    ws.send("hello over tenement");
    equal((await textReply).data, "hello over tenement");
    const binary = pattern(70_000);
    const binaryReply = nextMessage(ws);
    ws.send(binary);
    deepEqual(new Uint8Array((await binaryReply).data as ArrayBuffer), binary);
    await sleep(50);
    equal(resolver.active, 1, "still active while open and idle");
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.send("close:4001");
    const event = await closed;
    equal(event.code, 4001);
    equal(event.reason, "bye");
  } finally {
    ws.close();
  }
  await waitFor(() => resolver.active === 0, {
    what: "activity released after the close",
    intervalMs: 5,
  });
  equal(resolver.ends, 1);
});

Deno.test("front: a declined upgrade is an ordinary response", async () => {
  await using wsServer = webSocketServer();
  const resolver = new TestResolver().add("app", { port: wsServer.port });
  await using server = front(resolver);
  using client = await RawClient.open(server.addr.port);
  const res = await client.request("GET", "/", [
    ["Host", HOST],
    ["Connection", "Upgrade"],
    ["Upgrade", "not-websocket"],
  ]);
  equal(res.status, 426);
});

// ---- Unix sockets, shutdown --------------------------------------------------------------------

Deno.test("front: a target's Unix socket is used when preferred, TCP otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ten-front-" });
  const path = `${dir}/app.sock`;
  const viaUnix = Deno.serve(
    { path, transport: "unix", onListen() {} },
    () => new Response("unix"),
  );
  const viaTcp = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("tcp"),
  );
  try {
    const resolver = new TestResolver()
      .add("app", { port: viaTcp.addr.port, socketPath: path })
      .add("other", { port: viaTcp.addr.port, socketPath: `${dir}/missing.sock` });
    await using server = front(resolver, { preferUnix: (target) => target.service !== "plain" });
    equal(text(await get(server.addr.port, "/", HOST)), "unix");
    equal(text(await get(server.addr.port, "/", "a.other.localhost")), "tcp", "falls back to TCP");
    await using tcpOnly = front(resolver);
    equal(text(await get(tcpOnly.addr.port, "/", HOST)), "tcp", "TCP unless preferred");
  } finally {
    await viaUnix.shutdown();
    await viaTcp.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("front: shutdown lets an in-flight exchange finish, then closes", async () => {
  await using py = await okServer();
  const resolver = new TestResolver().add("py", { port: py.port });
  const server = front(resolver);
  let isDisposed = false;
  try {
    using client = await RawClient.open(server.addr.port);
    await client.send("GET /slow?ms=300 HTTP/1.1\r\nHost: a.py.localhost\r\n\r\n");
    await waitFor(() => resolver.begins === 1, {
      what: "the request to be in flight",
      intervalMs: 5,
    });
    const stopping = server.shutdown();
    const res = await client.read();
    equal(res.status, 200);
    ok(await client.isClosedWithin(), "closed after the answer");
    await stopping;
    isDisposed = true;
    const refused = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port })
      .then((c) => {
        c.close();
        return false;
      }, () => true);
    ok(refused, "no longer listening");
  } finally {
    if (!isDisposed) await server.shutdown();
  }
  notEqual(resolver.begins, 0);
  equal(resolver.active, 0);
});
