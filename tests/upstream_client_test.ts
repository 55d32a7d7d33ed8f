/**
 * Integration tests for the upstream client against real servers: `Deno.serve` backends for normal
 * behaviour and raw `Deno.listen` servers for the odd behaviour a real app can show.
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ChunkedDecoder } from "../src/proxy/http1.ts";
import {
  createUpstreamClient,
  type UpstreamClient,
  UpstreamConnectError,
  UpstreamProtocolError,
  type UpstreamRequest,
  type UpstreamSendOptions,
  type UpstreamTarget,
  UpstreamTimeoutError,
} from "../src/proxy/upstream_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MIB = 1024 * 1024;
/** Upper bound that only catches hangs; no test asserts on timing otherwise. */
const HANG_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Helpers (disposable, so every socket and server is closed even when an assertion fails)

interface TestClient extends Disposable {
  readonly client: UpstreamClient;
}

function testClient(options: { maxIdlePerTarget?: number } = {}): TestClient {
  const client = createUpstreamClient(options);
  return { client, [Symbol.dispose]: () => client.close() };
}

interface Backend extends AsyncDisposable {
  readonly target: UpstreamTarget;
  /** Distinct client ports seen, i.e. upstream connections used. */
  readonly connectionPorts: Set<number>;
}

function serveBackend(handler: (req: Request) => Response | Promise<Response>): Backend {
  const connectionPorts = new Set<number>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req, info) => {
    connectionPorts.add((info.remoteAddr as Deno.NetAddr).port);
    return handler(req);
  });
  return {
    target: { kind: "tcp", hostname: "127.0.0.1", port: server.addr.port },
    connectionPorts,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

interface RawServer extends AsyncDisposable {
  readonly target: UpstreamTarget;
  /** Number of accepted connections so far. */
  accepted(): number;
}

/** A `Deno.listen` server; `onConnection` owns each socket, which is closed when it returns. */
function rawServer(onConnection: (conn: Deno.TcpConn, index: number) => Promise<void>): RawServer {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const conns = new Set<Deno.TcpConn>();
  const handlers: Promise<void>[] = [];
  let count = 0;
  const acceptLoop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const index = count++;
      handlers.push(
        onConnection(conn, index).catch(() => {}).finally(() => {
          conns.delete(conn);
          closeQuietly(conn);
        }),
      );
    }
  })();
  return {
    target: { kind: "tcp", hostname: "127.0.0.1", port: listener.addr.port },
    accepted: () => count,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      for (const conn of conns) closeQuietly(conn);
      await acceptLoop.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Reads one request head (and a Content-Length body, if any) from a raw socket; null on EOF. */
async function readRequest(conn: Deno.Conn, pending: { bytes: string }): Promise<string | null> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const end = pending.bytes.indexOf("\r\n\r\n");
    if (end !== -1) {
      const head = pending.bytes.slice(0, end + 4);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (pending.bytes.length >= end + 4 + length) {
        pending.bytes = pending.bytes.slice(end + 4 + length);
        return head;
      }
    }
    const n = await conn.read(buf);
    if (n === null) return null;
    pending.bytes += decoder.decode(buf.subarray(0, n));
  }
}

async function writeText(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Waits until the peer closes (EOF or reset); true if it did within the hang bound. */
async function waitForPeerClose(conn: Deno.Conn): Promise<boolean> {
  const buf = new Uint8Array(1024);
  const deadline = Date.now() + HANG_MS;
  try {
    while (Date.now() < deadline) {
      if ((await conn.read(buf)) === null) return true;
    }
  } catch {
    return true;
  }
  return false;
}

/** Reads a stream to the end keeping every chunk as delivered, then concatenates them. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<number> {
  let total = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) total += r.value.length;
  return total;
}

interface DoneCounter {
  readonly onDone: () => void;
  readonly count: () => number;
}

function doneCounter(): DoneCounter {
  let count = 0;
  return { onDone: () => count++, count: () => count };
}

function get(
  pathAndQuery = "/",
  headers: HeadersInit = { host: "alice.notes.example.com" },
): UpstreamRequest {
  return { method: "GET", pathAndQuery, headers: new Headers(headers), body: null };
}

function sendOptions(
  done: DoneCounter,
  extra: Partial<UpstreamSendOptions> = {},
): UpstreamSendOptions {
  return { headersTimeoutMs: HANG_MS, onDone: done.onDone, ...extra };
}

function patternBytes(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/** A stream of `data` in `chunkBytes` pieces, produced lazily so the upload really streams. */
function streamOf(data: Uint8Array, chunkBytes = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function gzip(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Rejects with a clear message instead of hanging the suite. */
async function withinHangBound<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no progress within ${HANG_MS} ms`)),
      HANG_MS,
    );
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Normal exchanges against Deno.serve

Deno.test("GET: small response passes status, headers and body, with hop-by-hop headers dropped", async () => {
  await using backend = serveBackend((req) =>
    new Response(`hello ${req.headers.get("host")} ${new URL(req.url).search}`, {
      status: 201,
      headers: { "x-app": "notes", "keep-alive": "timeout=5", "set-cookie": "a=1" },
    })
  );
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(backend.target, get("/path?x=1"), sendOptions(done));
  equal(res.status, 201);
  equal(res.statusText, "Created");
  equal(res.headers.get("x-app"), "notes");
  equal(res.headers.get("set-cookie"), "a=1");
  equal(res.headers.has("keep-alive"), false);
  equal(await res.text(), "hello alice.notes.example.com ?x=1");
  equal(done.count(), 1);
});

Deno.test("GET: a custom reason phrase and repeated headers pass through", async () => {
  await using server = scriptedServer([
    "HTTP/1.1 299 Quite Fine\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nconnection: x-hop\r\nx-hop: 1\r\n" +
    "content-length: 2\r\n\r\nok",
  ]);
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(server.target, get(), sendOptions(done));
  equal(res.status, 299);
  equal(res.statusText, "Quite Fine");
  deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
  equal(res.headers.has("x-hop"), false);
  equal(await res.text(), "ok");
  equal(done.count(), 1);
});

Deno.test("GET: request headers reach the upstream unchanged, with a default Host when absent", async () => {
  let seen: Headers | null = null;
  await using backend = serveBackend((req) => {
    seen = req.headers;
    return new Response("ok");
  });
  using t = testClient();
  const done = doneCounter();
  const headers = new Headers({
    authorization: "Bearer t",
    cookie: "s=1; t=2",
    "x-forwarded-for": "1.2.3.4",
  });
  await (await t.client.send(backend.target, { ...get(), headers }, sendOptions(done))).text();
  const received = seen as Headers | null;
  equal(received?.get("authorization"), "Bearer t");
  equal(received?.get("cookie"), "s=1; t=2");
  equal(received?.get("x-forwarded-for"), "1.2.3.4");
  equal(received?.get("host"), `127.0.0.1:${(backend.target as { port: number }).port}`);
  equal(done.count(), 1);
});

Deno.test("GET: a 1 MiB response streams through byte for byte", async () => {
  const payload = patternBytes(MIB);
  await using backend = serveBackend(() => new Response(payload));
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(backend.target, get(), sendOptions(done));
  equal(res.headers.get("content-length"), String(MIB));
  const received = await collect(res.body!);
  equal(await sha256Hex(received), await sha256Hex(payload));
  equal(done.count(), 1);
});

Deno.test("POST: a 1 MiB upload streams to the upstream", async (t) => {
  const payload = patternBytes(MIB);
  const expectedHash = await sha256Hex(payload);
  await using backend = serveBackend(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return Response.json({
      length: body.length,
      hash: await sha256Hex(body),
      contentLength: req.headers.get("content-length"),
      transferEncoding: req.headers.get("transfer-encoding"),
    });
  });
  using tc = testClient();
  const cases: {
    name: string;
    headers: HeadersInit;
    contentLength: string | null;
    te: string | null;
  }[] = [
    {
      name: "with content-length",
      headers: { "content-length": String(MIB) },
      contentLength: String(MIB),
      te: null,
    },
    { name: "without content-length (chunked)", headers: {}, contentLength: null, te: "chunked" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const done = doneCounter();
      const request = {
        method: "POST",
        pathAndQuery: "/upload",
        headers: new Headers(c.headers),
        body: streamOf(payload),
      };
      const res = await tc.client.send(backend.target, request, sendOptions(done));
      deepEqual(await res.json(), {
        length: MIB,
        hash: expectedHash,
        contentLength: c.contentLength,
        transferEncoding: c.te,
      });
      equal(done.count(), 1);
    });
  }
  equal(backend.connectionPorts.size, 1, "both uploads used one kept-alive connection");
});

Deno.test("POST: an empty body is sent as Content-Length: 0", async () => {
  let seen: string | null = null;
  await using backend = serveBackend((req) => {
    seen = req.headers.get("content-length");
    return new Response("ok");
  });
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(backend.target, { ...get(), method: "POST" }, sendOptions(done));
  equal(await res.text(), "ok");
  equal(seen, "0");
  equal(done.count(), 1);
});

Deno.test("chunked response is de-chunked, both small (buffered) and large (streamed)", async (t) => {
  await using backend = serveBackend((req) => {
    const pieces = Number(new URL(req.url).searchParams.get("pieces"));
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === pieces) return controller.close();
        controller.enqueue(encoder.encode(`piece ${i++};`.padEnd(1000, ".")));
      },
    });
    return new Response(body);
  });
  using tc = testClient();
  for (const pieces of [3, 500]) {
    await t.step(`${pieces} pieces`, async () => {
      const done = doneCounter();
      const res = await tc.client.send(
        backend.target,
        get(`/?pieces=${pieces}`),
        sendOptions(done),
      );
      equal(res.headers.has("transfer-encoding"), false);
      equal(res.headers.has("content-length"), false);
      // Keep every chunk and decode at the end: chunks must not alias a reused read buffer.
      const text = decoder.decode(await collect(res.body!));
      const expected = Array.from({ length: pieces }, (_, i) => `piece ${i};`.padEnd(1000, "."));
      equal(text, expected.join(""));
      equal(done.count(), 1);
    });
  }
  equal(backend.connectionPorts.size, 1, "a finished chunked body leaves the connection reusable");
});

Deno.test("gzip response passes through compressed, with content-encoding and content-length intact", async () => {
  const compressed = await gzip(encoder.encode("tenement ".repeat(20_000)));
  await using backend = serveBackend(() =>
    new Response(compressed, {
      headers: {
        "content-encoding": "gzip",
        "content-type": "text/plain",
        vary: "accept-encoding",
      },
    })
  );
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(
    backend.target,
    get("/", { "accept-encoding": "gzip" }),
    sendOptions(done),
  );
  equal(res.headers.get("content-encoding"), "gzip");
  equal(res.headers.get("content-length"), String(compressed.length));
  const received = new Uint8Array(await res.arrayBuffer());
  equal(received.length, compressed.length);
  equal(await sha256Hex(received), await sha256Hex(compressed));
  equal(done.count(), 1);
});

Deno.test("SSE: the first event arrives before the upstream finishes the response", async () => {
  const finish = Promise.withResolvers<void>();
  await using backend = serveBackend(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode("data: one\n\n"));
        await finish.promise;
        controller.enqueue(encoder.encode("data: two\n\n"));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(backend.target, get(), sendOptions(done));
  equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  const first = await withinHangBound(reader.read(), "first SSE event");
  equal(decoder.decode(first.value), "data: one\n\n");
  equal(done.count(), 0, "the exchange is still open");
  finish.resolve();
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += decoder.decode(r.value);
  }
  equal(rest, "data: two\n\n");
  equal(done.count(), 1);
});

Deno.test("many sequential requests reuse one upstream connection", async () => {
  await using backend = serveBackend(() => new Response("hello"));
  using t = testClient();
  const done = doneCounter();
  for (let i = 0; i < 20; i++) {
    equal(await (await t.client.send(backend.target, get(), sendOptions(done))).text(), "hello");
  }
  equal(backend.connectionPorts.size, 1);
  equal(done.count(), 20);
});

Deno.test("concurrent requests open several connections and the pool keeps at most maxIdlePerTarget", async () => {
  let gate = Promise.withResolvers<void>();
  let arrived = Promise.withResolvers<void>();
  let waiting = 0;
  await using backend = serveBackend(async () => {
    if (++waiting === 4) arrived.resolve();
    await gate.promise;
    return new Response("ok");
  });
  using t = testClient({ maxIdlePerTarget: 2 });
  const done = doneCounter();
  async function concurrentBatch(): Promise<void> {
    waiting = 0;
    gate = Promise.withResolvers<void>();
    arrived = Promise.withResolvers<void>();
    const pending = Array.from(
      { length: 4 },
      () => t.client.send(backend.target, get(), sendOptions(done)),
    );
    await withinHangBound(arrived.promise, "four concurrent requests");
    gate.resolve();
    for (const res of await Promise.all(pending)) equal(await res.text(), "ok");
  }
  await concurrentBatch();
  equal(backend.connectionPorts.size, 4);
  await concurrentBatch();
  equal(
    backend.connectionPorts.size,
    6,
    "two pooled connections were reused, two had to be opened",
  );
  equal(done.count(), 8);
});

Deno.test("unix socket target", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/app.sock`;
    const server = Deno.serve(
      { path, onListen() {} },
      (req) => new Response(`unix ${new URL(req.url).pathname}`),
    );
    try {
      using t = testClient();
      const done = doneCounter();
      const target: UpstreamTarget = { kind: "unix", path };
      for (let i = 0; i < 3; i++) {
        equal(
          await (await t.client.send(target, get("/sock"), sendOptions(done))).text(),
          "unix /sock",
        );
      }
      equal(done.count(), 3);
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Sends raw request bytes and reads the whole response until the server closes. */
async function rawExchange(
  port: number,
  request: string,
): Promise<{ head: string; body: Uint8Array }> {
  const conn = await Deno.connect({ port, hostname: "127.0.0.1" });
  try {
    await writeText(conn, request);
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(await new Blob(chunks).arrayBuffer());
    const split = all.findIndex((_, i) =>
      all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 && all[i + 3] === 10
    );
    return {
      head: decoder.decode(all.subarray(0, split)).toLowerCase(),
      body: all.subarray(split + 4),
    };
  } finally {
    closeQuietly(conn);
  }
}

Deno.test("through a Deno.serve front, framing and bytes reach the client as the upstream sent them", async (t) => {
  const large = patternBytes(200 * 1024); // above the buffered fast path, so the body is a stream
  const compressed = await gzip(encoder.encode("tenement ".repeat(20_000)));
  await using backend = serveBackend((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/length") return new Response(large);
    if (path === "/gzip") {
      return new Response(compressed, {
        headers: { "content-encoding": "gzip", "content-type": "text/plain" },
      });
    }
    return new Response(streamOf(large, 10_000)); // no length: Deno.serve sends it chunked
  });
  using tc = testClient();
  const front = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    const request = {
      method: req.method,
      pathAndQuery: url.pathname,
      headers: req.headers,
      body: req.body,
    };
    return tc.client.send(backend.target, request, { headersTimeoutMs: HANG_MS });
  });
  const getRaw = (path: string): Promise<{ head: string; body: Uint8Array }> =>
    rawExchange(
      front.addr.port,
      `GET ${path} HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip\r\nconnection: close\r\n\r\n`,
    );
  try {
    await t.step(
      "a streamed body keeps its Content-Length (Deno.serve does not switch to chunked)",
      async () => {
        const { head, body } = await getRaw("/length");
        ok(head.includes(`content-length: ${large.length}`), head);
        ok(!head.includes("transfer-encoding"), head);
        deepEqual(body, large);
      },
    );
    await t.step("a chunked upstream body is chunked once, not twice", async () => {
      const { head, body } = await getRaw("/chunked");
      ok(head.includes("transfer-encoding: chunked"), head);
      ok(!head.includes("content-length"), head);
      const pieces = new ChunkedDecoder().feed(body).data.map((piece) => piece.slice());
      const decoded = new Uint8Array(await new Blob(pieces).arrayBuffer());
      deepEqual(decoded, large);
    });
    await t.step("gzip stays gzip with its length, byte for byte", async () => {
      const { head, body } = await getRaw("/gzip");
      ok(
        head.includes("content-encoding: gzip") &&
          head.includes(`content-length: ${compressed.length}`),
        head,
      );
      deepEqual(body, compressed);
    });
  } finally {
    await front.shutdown();
  }
});

// ---------------------------------------------------------------------------------------------
// Bodiless responses (raw server, so we control framing exactly)

/** Serves `responses` in order on one connection, then closes it. */
function scriptedServer(responses: readonly string[]): RawServer {
  return rawServer(async (conn) => {
    const pending = { bytes: "" };
    for (const response of responses) {
      if ((await readRequest(conn, pending)) === null) return;
      await writeText(conn, response);
    }
    await waitForPeerClose(conn);
  });
}

Deno.test("responses without a body: HEAD, 204, 304 and 1xx interim responses", async (t) => {
  const cases: {
    name: string;
    method: string;
    wire: string;
    status: number;
    headers: [string, string][];
    body: string | null;
  }[] = [
    {
      name: "HEAD keeps the advertised content-length",
      method: "HEAD",
      wire: "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n",
      status: 200,
      headers: [["content-length", "1234"]],
      body: null,
    },
    {
      name: "204",
      method: "GET",
      wire: "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n",
      status: 204,
      headers: [["x-a", "1"]],
      body: null,
    },
    {
      name: "304 with a content-length of the full entity",
      method: "GET",
      wire: 'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 99\r\n\r\n',
      status: 304,
      headers: [["content-length", "99"], ["etag", '"v1"']],
      body: null,
    },
    {
      name: "205 with content-length 0",
      method: "GET",
      wire: "HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\n\r\n",
      status: 205,
      headers: [["content-length", "0"]],
      body: null,
    },
    {
      name: "100 Continue and 103 Early Hints are skipped",
      method: "GET",
      wire: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n" +
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
      status: 200,
      headers: [["content-length", "2"]],
      body: "ok",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      // The second response proves nothing was left unread on the kept-alive connection.
      await using server = scriptedServer([
        c.wire,
        "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext",
      ]);
      using tc = testClient();
      const done = doneCounter();
      const res = await tc.client.send(
        server.target,
        { ...get(), method: c.method },
        sendOptions(done),
      );
      equal(res.status, c.status);
      deepEqual([...res.headers], c.headers);
      if (c.body === null) equal(res.body, null);
      else equal(await res.text(), c.body);
      equal(done.count(), 1);
      equal(await (await tc.client.send(server.target, get(), sendOptions(done))).text(), "next");
      equal(server.accepted(), 1);
      equal(done.count(), 2);
    });
  }
});

Deno.test("HTTP/1.0 and close-delimited responses are read to EOF and never pooled", async () => {
  await using server = rawServer(async (conn) => {
    await readRequest(conn, { bytes: "" });
    await writeText(conn, "HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ");
    await writeText(conn, "close");
  });
  using t = testClient();
  const done = doneCounter();
  for (let i = 0; i < 2; i++) {
    equal(
      await (await t.client.send(server.target, get(), sendOptions(done))).text(),
      "until close",
    );
  }
  equal(server.accepted(), 2);
  equal(done.count(), 2);
});

Deno.test("Connection: close from the upstream prevents reuse", async () => {
  await using server = rawServer(async (conn) => {
    await readRequest(conn, { bytes: "" });
    await writeText(conn, "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok");
    await waitForPeerClose(conn);
  });
  using t = testClient();
  const done = doneCounter();
  for (let i = 0; i < 2; i++) {
    equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "ok");
  }
  equal(server.accepted(), 2);
  equal(done.count(), 2);
});

Deno.test("Connection: close on the request prevents reuse even if the upstream keeps the socket open", async () => {
  await using server = rawServer(async (conn) => {
    const pending = { bytes: "" };
    while ((await readRequest(conn, pending)) !== null) {
      await writeText(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    }
  });
  using t = testClient();
  const done = doneCounter();
  const request = get("/", { host: "x", connection: "close" });
  for (let i = 0; i < 2; i++) {
    equal(await (await t.client.send(server.target, request, sendOptions(done))).text(), "ok");
  }
  equal(server.accepted(), 2);
  equal(done.count(), 2);
});

// ---------------------------------------------------------------------------------------------
// Stale keep-alive connections

Deno.test("upstream closes an idle keep-alive connection: the next request still succeeds", async () => {
  const closedFirst = Promise.withResolvers<void>();
  await using server = rawServer(async (conn, index) => {
    await readRequest(conn, { bytes: "" });
    await writeText(conn, `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${index}`);
    if (index === 0) {
      conn.close(); // keep-alive was implied, but the app drops the idle socket
      closedFirst.resolve();
    } else await waitForPeerClose(conn);
  });
  using t = testClient();
  const done = doneCounter();
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "0");
  await closedFirst.promise;
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "1");
  equal(server.accepted(), 2);
  equal(done.count(), 2);
});

/** First connection answers once, then reads the next request and drops it unanswered. */
function staleRaceServer(): RawServer {
  return rawServer(async (conn, index) => {
    const pending = { bytes: "" };
    await readRequest(conn, pending);
    await writeText(conn, `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${index}`);
    if (index === 0) {
      await readRequest(conn, pending); // the request lands just as the app closes the socket
      return;
    }
    await waitForPeerClose(conn);
  });
}

Deno.test("a pooled connection that dies before responding is retried once on a fresh one", async () => {
  await using server = staleRaceServer();
  using t = testClient();
  const done = doneCounter();
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "0");
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "1");
  equal(server.accepted(), 2);
  equal(done.count(), 2);
});

Deno.test("an idle connection the upstream closed is dropped from the pool, so even a POST succeeds", async () => {
  const closedFirst = Promise.withResolvers<void>();
  await using server = rawServer(async (conn, index) => {
    const pending = { bytes: "" };
    await readRequest(conn, pending);
    await writeText(conn, `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${index}`);
    if (index === 0) {
      conn.close();
      closedFirst.resolve();
      return;
    }
    await waitForPeerClose(conn);
  });
  using t = testClient();
  const done = doneCounter();
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "0");
  await closedFirst.promise;
  // The FIN travels through the kernel and the client's parked read: nothing in the test can
  // observe that moment, so give it a short, generous span instead.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const post = {
    method: "POST",
    pathAndQuery: "/",
    headers: new Headers({ "content-length": "5" }),
    body: streamOf(encoder.encode("hello")),
  };
  equal(await (await t.client.send(server.target, post, sendOptions(done))).text(), "1");
  equal(done.count(), 2);
});

Deno.test("bytes beyond the framed body make the connection unusable", async () => {
  await using server = rawServer(async (conn, index) => {
    const pending = { bytes: "" };
    await readRequest(conn, pending);
    if (index === 0) {
      // One write: the extra response arrives in the same read as the real body.
      await writeText(
        conn,
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale",
      );
      await waitForPeerClose(conn); // never answers again on this socket
      return;
    }
    await writeText(conn, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh");
    await waitForPeerClose(conn);
  });
  using t = testClient();
  const done = doneCounter();
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "ok");
  const second = await t.client.send(
    server.target,
    get(),
    sendOptions(done, { headersTimeoutMs: 2_000 }),
  );
  equal(await second.text(), "fresh");
  equal(server.accepted(), 2);
  equal(done.count(), 2);
});

Deno.test("a request with a body is not replayed on a fresh connection", async () => {
  await using server = staleRaceServer();
  using t = testClient();
  const done = doneCounter();
  equal(await (await t.client.send(server.target, get(), sendOptions(done))).text(), "0");
  const post = {
    method: "POST",
    pathAndQuery: "/",
    headers: new Headers({ "content-length": "5" }),
    body: streamOf(encoder.encode("hello")),
  };
  await rejects(t.client.send(server.target, post, sendOptions(done)), UpstreamConnectError);
  equal(server.accepted(), 1);
  equal(done.count(), 2);
});

// ---------------------------------------------------------------------------------------------
// Failures

Deno.test("refused port → UpstreamConnectError", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = listener.addr.port;
  listener.close();
  using t = testClient();
  const done = doneCounter();
  await rejects(
    t.client.send({ kind: "tcp", hostname: "127.0.0.1", port }, get(), sendOptions(done)),
    (error: unknown) =>
      error instanceof UpstreamConnectError && error.message.includes(`127.0.0.1:${port}`),
  );
  equal(done.count(), 1);
});

Deno.test("missing unix socket → UpstreamConnectError", async () => {
  using t = testClient();
  const done = doneCounter();
  const target: UpstreamTarget = { kind: "unix", path: "/nonexistent/tenement-test.sock" };
  await rejects(t.client.send(target, get(), sendOptions(done)), UpstreamConnectError);
  equal(done.count(), 1);
});

Deno.test("slow response head → UpstreamTimeoutError, and the upstream socket is closed", async () => {
  const peerClosed = Promise.withResolvers<boolean>();
  await using server = rawServer(async (conn) => {
    await readRequest(conn, { bytes: "" });
    peerClosed.resolve(await waitForPeerClose(conn));
  });
  using t = testClient();
  const done = doneCounter();
  await rejects(
    t.client.send(server.target, get(), sendOptions(done, { headersTimeoutMs: 100 })),
    UpstreamTimeoutError,
  );
  equal(await peerClosed.promise, true);
  equal(done.count(), 1);
});

Deno.test("malformed responses → UpstreamProtocolError", async (t) => {
  const cases: [string, string][] = [
    ["garbage", "garbage\r\n\r\n"],
    ["bad status line", "HTTP/1.1 OK\r\n\r\n"],
    ["status outside 200-599", "HTTP/1.1 600 Odd\r\ncontent-length: 0\r\n\r\n"],
    [
      "duplicate content-length",
      "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok",
    ],
    [
      "content-length and chunked",
      "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n",
    ],
    ["invalid content-length", "HTTP/1.1 200 OK\r\ncontent-length: two\r\n\r\nok"],
    ["obs-fold", "HTTP/1.1 200 OK\r\nx-a: 1\r\n 2\r\n\r\n"],
    ["protocol upgrade", "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"],
    ["closed mid-head", "HTTP/1.1 200 OK\r\ncontent-"],
    ["205 with a body", "HTTP/1.1 205 Reset Content\r\ncontent-length: 2\r\n\r\nok"],
  ];
  for (const [name, wire] of cases) {
    await t.step(name, async () => {
      await using server = rawServer(async (conn) => {
        await readRequest(conn, { bytes: "" });
        await writeText(conn, wire);
      });
      using tc = testClient();
      const done = doneCounter();
      await rejects(tc.client.send(server.target, get(), sendOptions(done)), UpstreamProtocolError);
      equal(done.count(), 1);
    });
  }
});

Deno.test("a body cut short or malformed mid-stream errors the response stream", async (t) => {
  const cases: [string, string, string][] = [
    ["content-length body cut short", "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nfirst", ""],
    [
      "chunked body cut short",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
      "3\r\nab",
    ],
    [
      "bad chunk size",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
      "zz\r\n",
    ],
    [
      "missing CRLF after chunk",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
      "2\r\nabc",
    ],
  ];
  for (const [name, first, rest] of cases) {
    await t.step(name, async () => {
      const gate = Promise.withResolvers<void>();
      await using server = rawServer(async (conn) => {
        await readRequest(conn, { bytes: "" });
        await writeText(conn, first);
        await gate.promise;
        await writeText(conn, rest);
      });
      using tc = testClient();
      const done = doneCounter();
      const res = await tc.client.send(server.target, get(), sendOptions(done));
      const reader = res.body!.getReader();
      equal(decoder.decode((await reader.read()).value), "first");
      gate.resolve();
      await rejects(drain(reader), UpstreamProtocolError);
      equal(done.count(), 1);
    });
  }
});

Deno.test("a malformed chunked body already buffered with the head fails send()", async () => {
  await using server = scriptedServer([
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
  ]);
  using t = testClient();
  const done = doneCounter();
  await rejects(t.client.send(server.target, get(), sendOptions(done)), UpstreamProtocolError);
  equal(done.count(), 1);
});

Deno.test("an upstream that answers before reading the whole upload still gets its answer relayed", async () => {
  await using server = rawServer(async (conn) => {
    await readRequest(conn, { bytes: "" }); // the head only: chunked bodies have no content-length
    await writeText(conn, "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig");
    await waitForPeerClose(conn);
  });
  using t = testClient();
  const done = doneCounter();
  let pulls = 0;
  const cancelled = Promise.withResolvers<void>();
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(new Uint8Array(16 * 1024));
    },
    cancel: () => cancelled.resolve(),
  });
  const request = { method: "POST", pathAndQuery: "/", headers: new Headers(), body: endless };
  const res = await t.client.send(server.target, request, sendOptions(done));
  equal(res.status, 413);
  equal(await res.text(), "big");
  equal(done.count(), 1);
  ok(pulls > 0);
  await withinHangBound(cancelled.promise, "cancel of the unsent upload");
});

Deno.test("a failing upload stream fails the exchange and closes the upstream socket", async () => {
  const peerClosed = Promise.withResolvers<boolean>();
  await using server = rawServer(async (conn) => {
    peerClosed.resolve(await waitForPeerClose(conn));
  });
  using t = testClient();
  const done = doneCounter();
  let sent = false;
  const failing = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new Error("client went away mid-upload"));
      sent = true;
      controller.enqueue(encoder.encode("partial"));
    },
  });
  const request = { method: "PUT", pathAndQuery: "/", headers: new Headers(), body: failing };
  await rejects(
    t.client.send(server.target, request, sendOptions(done)),
    /client went away mid-upload/,
  );
  equal(await peerClosed.promise, true);
  equal(done.count(), 1);
});

// ---------------------------------------------------------------------------------------------
// Client going away

/** Streams one chunk, then holds the response open until the client closes the socket. */
function endlessStreamServer(peerClosed: PromiseWithResolvers<boolean>): RawServer {
  return rawServer(async (conn) => {
    await readRequest(conn, { bytes: "" });
    await writeText(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nfirst\n\r\n");
    peerClosed.resolve(await waitForPeerClose(conn));
  });
}

Deno.test("client abort mid-body closes the upstream socket and errors the stream", async () => {
  const peerClosed = Promise.withResolvers<boolean>();
  await using server = endlessStreamServer(peerClosed);
  using t = testClient();
  const done = doneCounter();
  const abort = new AbortController();
  const res = await t.client.send(
    server.target,
    get(),
    sendOptions(done, { signal: abort.signal }),
  );
  const reader = res.body!.getReader();
  equal(decoder.decode((await reader.read()).value), "first\n");
  const next = reader.read();
  abort.abort(new Error("client disconnected"));
  await rejects(withinHangBound(next, "read after abort"), /client disconnected/);
  equal(await peerClosed.promise, true);
  equal(done.count(), 1);
});

Deno.test("cancelling the response body closes the upstream socket", async () => {
  const peerClosed = Promise.withResolvers<boolean>();
  await using server = endlessStreamServer(peerClosed);
  using t = testClient();
  const done = doneCounter();
  const res = await t.client.send(server.target, get(), sendOptions(done));
  const reader = res.body!.getReader();
  equal(decoder.decode((await reader.read()).value), "first\n");
  await reader.cancel();
  equal(await peerClosed.promise, true);
  equal(done.count(), 1);
});

Deno.test("abort before the response head rejects with the abort reason", async () => {
  const peerClosed = Promise.withResolvers<boolean>();
  const arrived = Promise.withResolvers<void>();
  await using server = rawServer(async (conn) => {
    await readRequest(conn, { bytes: "" });
    arrived.resolve();
    peerClosed.resolve(await waitForPeerClose(conn));
  });
  using t = testClient();
  const done = doneCounter();
  const abort = new AbortController();
  const pending = t.client.send(server.target, get(), sendOptions(done, { signal: abort.signal }));
  await arrived.promise;
  abort.abort(new Error("gone"));
  await rejects(withinHangBound(pending, "send after abort"), /gone/);
  equal(await peerClosed.promise, true);
  equal(done.count(), 1);
});

Deno.test("an already aborted signal rejects without connecting", async () => {
  await using server = rawServer(async () => {});
  using t = testClient();
  const done = doneCounter();
  await rejects(
    t.client.send(
      server.target,
      get(),
      sendOptions(done, { signal: AbortSignal.abort(new Error("early")) }),
    ),
    /early/,
  );
  equal(server.accepted(), 0);
  equal(done.count(), 1);
});

Deno.test("closeTarget() closes idle pooled connections to that target only", async () => {
  await using a = serveBackend(() => new Response("a"));
  await using b = serveBackend(() => new Response("b"));
  using t = testClient();
  const done = doneCounter();
  await (await t.client.send(a.target, get(), sendOptions(done))).text();
  await (await t.client.send(b.target, get(), sendOptions(done))).text();
  t.client.closeTarget(a.target);
  await (await t.client.send(a.target, get(), sendOptions(done))).text();
  await (await t.client.send(b.target, get(), sendOptions(done))).text();
  equal(a.connectionPorts.size, 2);
  equal(b.connectionPorts.size, 1);
  equal(done.count(), 4);
});
