/**
 * Integration tests for routing and proxying (interface §4): a real `ten serve`, real fixture apps
 * and the notes example, real HTTP over loopback. Byte-level claims (hop-by-hop headers, gzip,
 * keep-alive, invalid Host names) use a raw socket client so that no HTTP library adds, drops or
 * decodes anything on the way.
 * @module
 */

import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import {
  apiSpawn,
  bodyText,
  concat,
  type Daemon,
  DATA_DIR_ENV,
  EXAMPLES,
  FIXTURES,
  instancesBlock,
  okService,
  PYTHON,
  RawClient,
  rawExchange,
  type ServiceKeys,
  settingsBlock,
  startDaemon,
} from "../testkit/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KIB = 1024;
const MIB = 1024 * KIB;
/** Upper bound that only catches a hang. */
const HANG_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Config helpers

/** A daemon with one service, `app`, running `ok_server.py`. */
function appDaemon(): Promise<Daemon> {
  return startDaemon({ config: settingsBlock() + tenantService("app") });
}

/** `okService` with TENANT = the instance id as well. */
function tenantService(name: string, keys: ServiceKeys = {}): string {
  return okService(name, { env: { ...DATA_DIR_ENV, TENANT: "{id}" }, ...keys });
}

/** Echo of `ok_server.py`. */
interface Echo {
  pid: number;
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  tenant: string | null;
  data_dir: string | null;
}

function echoOf(res: { readonly status: number; readonly body: string }): Echo {
  equal(res.status, 200, `expected 200, got ${res.status}: ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as Echo;
}

/** Names in a directory, or [] when it does not exist. */
async function namesIn(path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) names.push(e.name);
  } catch (err: unknown) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err: unknown) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** A body of `size` printable ASCII bytes that is not one repeated character. */
function patternText(size: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ_";
  let out = "";
  for (let i = 0; out.length < size; i++) out += alphabet[(i * 7 + (i >> 6)) % alphabet.length];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tests

Deno.test("two tenants of the notes example get separate processes and separate databases", async () => {
  await using d = await startDaemon({
    config: `${settingsBlock()}
[service.notes]
command = "${PYTHON} ${EXAMPLES}/notes-py/app.py"
health = "/health"

[service.notes.env]
DATA_DIR = "{data_dir}/{name}/{id}"
TENANT = "{id}"
`,
  });
  const posted = await d.request("alice.notes.localhost", "/notes", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "alice's secret" }),
  });
  equal(posted.status, 201, posted.body);

  type Notes = { tenant: string; pid: number; notes: { text: string }[] };
  const alice = await d.request("alice.notes.localhost", "/notes");
  const bob = await d.request("bob.notes.localhost", "/notes");
  equal(alice.status, 200, alice.body);
  equal(bob.status, 200, bob.body);
  const a = JSON.parse(alice.body) as Notes;
  const b = JSON.parse(bob.body) as Notes;
  equal(a.tenant, "alice");
  equal(b.tenant, "bob");
  notEqual(a.pid, b.pid);
  deepEqual(a.notes.map((n) => n.text), ["alice's secret"]);
  deepEqual(b.notes, []);

  const aliceDb = await Deno.stat(`${d.dataDir}/notes/alice/notes.db`);
  const bobDb = await Deno.stat(`${d.dataDir}/notes/bob/notes.db`);
  ok(aliceDb.isFile && bobDb.isFile);
  notEqual(aliceDb.ino, bobDb.ino);
  await d.instances();
});

Deno.test("50 concurrent first requests to a never-started instance start it exactly once", async () => {
  await using d = await appDaemon();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => d.request("alice.app.localhost", `/r/${i}`)),
  );
  deepEqual(results.map((r) => r.status), Array(50).fill(200));
  const pids = new Set(results.map((r) => echoOf(r).pid));
  equal(pids.size, 1, `responses came from pids ${[...pids].join(", ")}`);
  const started = (await namesIn(`${d.dataDir}/app/alice`)).filter((n) => n.startsWith("started-"));
  deepEqual(started, [`started-${[...pids][0]}`]);
  await d.instances();
});

Deno.test("a request body sent as the very first request to a cold instance arrives intact", async (t) => {
  await using d = await appDaemon();
  const sent = patternText(100 * KIB);

  await t.step("with Content-Length", async () => {
    const echo = echoOf(
      await d.request("cold1.app.localhost", "/upload", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: sent,
      }),
    );
    equal(echo.method, "POST");
    equal(echo.body.length, sent.length);
    ok(echo.body === sent, "the echoed body differs from the one sent");
  });

  await t.step("chunked (a body of unknown length)", async () => {
    const bytes = encoder.encode(sent);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 8 * KIB) {
      const piece = bytes.subarray(i, i + 8 * KIB);
      chunks.push(
        encoder.encode(`${piece.length.toString(16)}\r\n`),
        piece,
        encoder.encode("\r\n"),
      );
    }
    chunks.push(encoder.encode("0\r\n\r\n"));
    const res = await rawExchange(d.port, "PUT", "/upload", [
      ["Host", "cold2.app.localhost"],
      ["Transfer-Encoding", "chunked"],
    ], concat(chunks));
    const echo = echoOf({ status: res.status, body: bodyText(res) });
    d.groups.add(echo.pid);
    equal(echo.method, "PUT");
    equal(echo.body.length, sent.length);
    ok(echo.body === sent, "the echoed body differs from the one sent");
  });
  await d.instances();
});

Deno.test("end-to-end headers pass unchanged, hop-by-hop headers are dropped, X-Forwarded-* are set", async () => {
  await using d = await appDaemon();
  const host = `alice.app.localhost:${d.port}`;
  const res = await rawExchange(d.port, "PATCH", "/some/path?x=1&y=a%20b&x=2", [
    ["Host", host],
    ["Authorization", "Bearer app-secret-token"],
    ["Cookie", "session=abc123; theme=dark"],
    ["Connection", "x-custom"],
    ["X-Custom", "per-hop only"],
    ["Keep-Alive", "timeout=5, max=100"],
    ["TE", "trailers"],
    ["Proxy-Authorization", "Basic Zm9vOmJhcg=="],
    ["X-End-To-End", "kept"],
    ["Content-Type", "text/plain"],
    ["Content-Length", "5"],
  ], encoder.encode("hello"));
  equal(res.status, 200, bodyText(res));
  const echo = JSON.parse(bodyText(res)) as Echo;
  d.groups.add(echo.pid);
  const h = echo.headers;
  equal(echo.method, "PATCH");
  equal(echo.path, "/some/path?x=1&y=a%20b&x=2");
  equal(echo.body, "hello");
  equal(echo.tenant, "alice");
  equal(h["host"], host);
  equal(h["authorization"], "Bearer app-secret-token");
  equal(h["cookie"], "session=abc123; theme=dark");
  equal(h["x-end-to-end"], "kept");
  equal(h["x-forwarded-for"], "127.0.0.1");
  equal(h["x-forwarded-proto"], "http");
  equal(h["x-forwarded-host"], host);
  for (const name of ["x-custom", "keep-alive", "te", "proxy-authorization"]) {
    equal(h[name], undefined, `hop-by-hop header ${name} reached the app`);
  }
  ok(!(h["connection"] ?? "").toLowerCase().includes("x-custom"), `connection: ${h["connection"]}`);
});

Deno.test("a gzip response passes through byte-identical with its headers", async () => {
  await using d = await appDaemon();
  const viaProxy = await rawExchange(d.port, "GET", "/gzip", [
    ["Host", "alice.app.localhost"],
    ["Accept-Encoding", "gzip"],
  ]);
  equal(viaProxy.status, 200);
  const row = await d.instance("app:alice");
  ok(row?.port, "app:alice has no port");
  const direct = await rawExchange(row.port, "GET", "/gzip", [
    ["Host", "localhost"],
    ["Accept-Encoding", "gzip"],
  ]);
  equal(direct.status, 200);

  equal(viaProxy.headers.get("content-encoding"), "gzip");
  equal(viaProxy.headers.get("content-length"), direct.headers.get("content-length"));
  equal(viaProxy.headers.get("content-length"), String(viaProxy.body.length));
  deepEqual(viaProxy.body, direct.body);
  const plain = await new Response(
    new Blob([viaProxy.body.slice()]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  equal(plain, "hello gzip ".repeat(100));
});

/** Times, from the request, at which the head, each of `marks` and the end arrived. */
async function timeStream(
  port: number,
  request: string,
  marks: readonly string[],
): Promise<{ head: string; headMs: number; markMs: number[]; endMs: number; raw: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), HANG_MS);
  try {
    const t0 = performance.now();
    await conn.write(encoder.encode(request));
    let raw = "";
    let headMs = -1;
    const markMs = marks.map(() => -1);
    const buf = new Uint8Array(16 * KIB);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      raw += decoder.decode(buf.subarray(0, n), { stream: true });
      const now = performance.now() - t0;
      if (headMs < 0 && raw.includes("\r\n\r\n")) headMs = now;
      marks.forEach((m, i) => {
        if (markMs[i]! < 0 && raw.includes(m)) markMs[i] = now;
      });
      if (raw.endsWith("\r\n0\r\n\r\n")) break;
    }
    const endMs = performance.now() - t0;
    const head = raw.slice(0, raw.indexOf("\r\n\r\n"));
    return { head, headMs, markMs, endMs, raw };
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

Deno.test("server-sent events are streamed: the first event arrives long before the last is sent", async (t) => {
  await using d = await appDaemon();
  equal((await d.request("alice.app.localhost", "/warm")).status, 200);

  for (const acceptEncoding of [undefined, "gzip, deflate, br"]) {
    await t.step(`Accept-Encoding: ${acceptEncoding ?? "none"}`, async () => {
      const request = "GET /sse?n=3&interval_ms=500 HTTP/1.1\r\nHost: alice.app.localhost\r\n" +
        "Accept: text/event-stream\r\n" +
        (acceptEncoding ? `Accept-Encoding: ${acceptEncoding}\r\n` : "") +
        "Connection: close\r\n\r\n";
      const s = await timeStream(d.port, request, ["data: 0\n\n", "data: 2\n\n"]);
      ok(/^HTTP\/1\.1 200/.test(s.head), s.head);
      ok(/\r\ncontent-type: text\/event-stream/i.test(s.head), s.head);
      ok(!/\r\ncontent-encoding:/i.test(s.head), `an event stream was compressed:\n${s.head}`);
      const [first, last] = s.markMs as [number, number];
      ok(first >= 0 && last >= 0, `events missing from ${JSON.stringify(s.raw)}`);
      ok(first - s.headMs < 400, `first event ${Math.round(first - s.headMs)} ms after the head`);
      ok(last - first >= 800, `last event only ${Math.round(last - first)} ms after the first`);
    });
  }
});

Deno.test("Host parsing: case, trailing dot and port are normalised; bad names are rejected", async (t) => {
  await using d = await appDaemon();
  const pid = echoOf(await d.request("alice.app.localhost", "/")).pid;

  await t.step("variants of alice.app.localhost reach the same instance", async () => {
    for (
      const host of [
        `ALICE.App.LOCALHOST:${d.port}`,
        "alice.app.localhost.",
        `alice.app.localhost.:${d.port}`,
        "alice.app.localhost:1234",
      ]
    ) {
      const echo = echoOf(await d.request(host, "/who"));
      equal(echo.pid, pid, `Host ${host}`);
      equal(echo.tenant, "alice", `Host ${host}`);
    }
  });

  await t.step("an unknown service is 404", async () => {
    for (const host of ["alice.nope.localhost", "nope.localhost"]) {
      const res = await rawExchange(d.port, "GET", "/", [["Host", host]]);
      equal(res.status, 404, `Host ${host}`);
    }
  });

  await t.step("invalid labels are 400", async () => {
    for (const host of ["a_b!.app.localhost", "x.y.app.localhost", "x.y.notes.localhost"]) {
      const res = await rawExchange(d.port, "GET", "/", [["Host", host]]);
      equal(res.status, 400, `Host ${host}: ${bodyText(res)}`);
    }
    deepEqual(await namesIn(`${d.dataDir}/app`), ["alice"]);
  });

  await t.step("bare localhost and 127.0.0.1 reach tenement's own API", async () => {
    for (const host of ["localhost", `localhost:${d.port}`, "127.0.0.1", `127.0.0.1:${d.port}`]) {
      const health = await rawExchange(d.port, "GET", "/health", [["Host", host]]);
      equal(health.status, 200, `Host ${host}`);
      deepEqual(JSON.parse(bodyText(health)), { status: "ok" });
      const denied = await rawExchange(d.port, "GET", "/api/instances", [["Host", host]]);
      equal(denied.status, 401, `Host ${host}`);
      ok((denied.headers.get("content-type") ?? "").includes("application/json"));
      const body = JSON.parse(bodyText(denied)) as { error?: unknown };
      ok(typeof body.error === "string" && body.error !== "", bodyText(denied));
    }
  });
  await d.instances();
});

Deno.test("errors: 504 past request_timeout; 503 for an app that never gets ready, without internals", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + tenantService("app", { request_timeout: 1 }) +
      tenantService("broken", {
        fixture: "crash_on_start.py",
        restart: "never",
        startup_timeout: 2,
      }),
  });

  await t.step("an answer slower than request_timeout is a 504", async () => {
    equal((await d.request("alice.app.localhost", "/warm")).status, 200);
    const started = performance.now();
    const res = await d.request("alice.app.localhost", "/slow?ms=3000");
    const elapsed = performance.now() - started;
    equal(res.status, 504, res.body);
    equal(res.body.trim(), "Gateway timeout");
    ok(elapsed < 2_900, `answered after ${Math.round(elapsed)} ms, not at the 1 s timeout`);
  });

  const leaks = ["nonexistent", "fatal", "crash_on_start", FIXTURES, "Error", "    at ", "exit"];

  await t.step("Accept: text/html gets an HTML 503 with Retry-After", async () => {
    const res = await d.request("x.broken.localhost", "/", {
      headers: { accept: "text/html,application/xhtml+xml" },
    });
    equal(res.status, 503, res.body);
    ok(
      /^\d+$/.test(res.headers.get("retry-after") ?? ""),
      `retry-after: ${res.headers.get("retry-after")}`,
    );
    ok((res.headers.get("content-type") ?? "").startsWith("text/html"));
    ok(res.body.includes("<html"), res.body);
    for (const leak of leaks) ok(!res.body.includes(leak), `body leaks "${leak}": ${res.body}`);
  });

  await t.step("other clients get a plain-text 503 with Retry-After", async () => {
    const res = await d.request("y.broken.localhost", "/", { headers: { accept: "*/*" } });
    equal(res.status, 503, res.body);
    ok(
      /^\d+$/.test(res.headers.get("retry-after") ?? ""),
      `retry-after: ${res.headers.get("retry-after")}`,
    );
    ok((res.headers.get("content-type") ?? "").startsWith("text/plain"));
    equal(res.body.trim(), "Service temporarily unavailable");
    for (const leak of leaks) ok(!res.body.includes(leak), `body leaks "${leak}": ${res.body}`);
  });
  await t.step(
    "a request starts an app that exits during start-up once, not in a loop",
    async () => {
      const res = await d.request("z.broken.localhost", "/");
      equal(res.status, 503, res.body);
      const logs = await d.api("GET", "/api/logs?process=broken&id=z");
      equal(logs.status, 200, logs.body);
      const launches = (JSON.parse(logs.body) as { message: string }[])
        .filter((e) => e.message === "booting").length;
      equal(launches, 1, `restart = "never", yet one request launched the app ${launches} times`);
    },
  );
  await d.instances();
});

Deno.test("auto-create bounds refuse new ids by request, while configured and API ids still work", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() +
      tenantService("closed", { auto_create: false }) +
      tenantService("allow", { auto_create_allow: ["alice"] }) +
      tenantService("limited", { auto_create_limit: 3 }) +
      tenantService("rated", { auto_create_per_minute: 2 }) +
      instancesBlock({ closed: ["pre"] }),
  });
  /** Asserts that a refused id left no trace: no instance row, no data dir. */
  const assertNotCreated = async (service: string, id: string): Promise<void> => {
    const rows = await d.instances();
    equal(rows.find((r) => r.id === `${service}:${id}`), undefined, `${service}:${id} is listed`);
    ok(!(await exists(`${d.dataDir}/${service}/${id}`)), `${service}/${id} dir exists`);
  };

  /** `refused` is 404 without a trace; `known` answers; an API spawn of `spawned` works. */
  const checkGate = async (service: string, refused: string, known: string, spawned: string) => {
    const res = await d.request(`${refused}.${service}.localhost`, "/");
    equal(res.status, 404, res.body);
    await assertNotCreated(service, refused);
    equal(echoOf(await d.request(`${known}.${service}.localhost`, "/")).tenant, known);
    const pid = await apiSpawn(d, service, spawned);
    equal(echoOf(await d.request(`${spawned}.${service}.localhost`, "/")).pid, pid);
  };

  await t.step("auto_create = false: a never-seen id is 404 and nothing starts", async () => {
    await checkGate("closed", "nobody", "pre", "viaapi");
  });

  await t.step("auto_create_allow: only listed ids are created", async () => {
    await checkGate("allow", "bob", "alice", "carol");
  });

  await t.step("auto_create_limit = 3: the 4th new id is refused", async () => {
    for (const id of ["n1", "n2", "n3"]) {
      equal(echoOf(await d.request(`${id}.limited.localhost`, "/")).tenant, id);
    }
    const fourth = await d.request("n4.limited.localhost", "/");
    ok(fourth.status >= 400, `4th new id got ${fourth.status}`);
    await assertNotCreated("limited", "n4");
    deepEqual(await namesIn(`${d.dataDir}/limited`), ["n1", "n2", "n3"]);
    equal(echoOf(await d.request("n1.limited.localhost", "/")).tenant, "n1");
    const pid = await apiSpawn(d, "limited", "extra");
    equal(echoOf(await d.request("extra.limited.localhost", "/")).pid, pid);
  });

  await t.step(
    "auto_create_per_minute = 2: the 3rd new id in a row is refused with Retry-After",
    async () => {
      for (const id of ["r1", "r2"]) {
        equal(echoOf(await d.request(`${id}.rated.localhost`, "/")).tenant, id);
      }
      const third = await d.request("r3.rated.localhost", "/");
      ok(third.status >= 400, `3rd new id got ${third.status}`);
      ok(
        /^\d+$/.test(third.headers.get("retry-after") ?? ""),
        `retry-after: ${third.headers.get("retry-after")}`,
      );
      await assertNotCreated("rated", "r3");
      const pid = await apiSpawn(d, "rated", "extra");
      equal(echoOf(await d.request("extra.rated.localhost", "/")).pid, pid);
    },
  );
  await d.instances();
});

Deno.test("weighted route: weight 0 gets no traffic, and a service with every instance asleep is woken", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + tenantService("app") + tenantService("sleepy", { idle_timeout: 1 }),
  });

  await t.step("traffic spreads by weight and weight 0 gets none", async () => {
    const pidA = await apiSpawn(d, "app", "a");
    const pidB = await apiSpawn(d, "app", "b");
    const before = new Set<number>();
    for (let i = 0; i < 40; i++) before.add(echoOf(await d.request("app.localhost", "/")).pid);
    deepEqual([...before].sort(), [pidA, pidB].sort(), "equal weights should reach both");

    const put = await d.api("PUT", "/api/instances/app:b/weight", { weight: 0 });
    equal(put.status, 200, put.body);
    equal((JSON.parse(put.body) as { weight: number }).weight, 0);
    const after: number[] = [];
    for (let i = 0; i < 40; i++) after.push(echoOf(await d.request("app.localhost", "/")).pid);
    deepEqual(after, Array(40).fill(pidA));
  });

  await t.step("a weighted request wakes an instance when all are asleep", async () => {
    const first = await apiSpawn(d, "sleepy", "s1");
    await apiSpawn(d, "sleepy", "s2");
    await d.untilInstances((all) => {
      const rows = all.filter((r) => r.id.startsWith("sleepy:"));
      return rows.length === 2 && rows.every((r) => r.status === "asleep" && r.pid === null);
    }, { timeoutMs: 10_000, what: "both sleepy instances asleep" });
    const res = await d.request("sleepy.localhost", "/");
    const echo = echoOf(res);
    ok(echo.tenant === "s1" || echo.tenant === "s2", echo.tenant ?? "no tenant");
    notEqual(echo.pid, first);
  });
  await d.instances();
});

Deno.test("after kill -9 of the app, the next request waits for the restart and gets a new process", async () => {
  await using d = await appDaemon();
  const before = echoOf(await d.request("alice.app.localhost", "/")).pid;
  Deno.kill(before, "SIGKILL");
  const res = await d.request("alice.app.localhost", "/after");
  const after = echoOf(res).pid;
  notEqual(after, before);
  equal(echoOf(await d.request("alice.app.localhost", "/again")).pid, after);
  await d.instances();
});

Deno.test("large bodies both ways, and keep-alive to the client and to the app", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + tenantService("app") +
      tenantService("conn", { fixture: "conn_echo.py" }),
  });
  const warm = echoOf(await d.request("alice.app.localhost", "/"));

  await t.step("a 1 MiB response arrives complete", async () => {
    const res = await d.request("alice.app.localhost", `/big?bytes=${MIB}`);
    equal(res.status, 200);
    equal(res.headers.get("content-length"), String(MIB));
    equal(res.bytes.length, MIB);
    ok(res.bytes.every((b) => b === 0x78), "the body is not all 'x'");
  });

  await t.step("a 1 MiB upload reaches the app whole", async () => {
    const sent = patternText(MIB);
    const echo = echoOf(
      await d.request("alice.app.localhost", "/upload", { method: "POST", body: sent }),
    );
    equal(echo.body.length, MIB);
    ok(echo.body === sent, "the echoed body differs from the one sent");
  });

  await t.step("200 sequential requests over one client connection", async () => {
    using conn = await RawClient.open(d.port);
    for (let i = 0; i < 200; i++) {
      const res = await conn.request("GET", `/k?i=${i}`, [["Host", "alice.app.localhost"]]);
      equal(res.status, 200, `request ${i}: ${bodyText(res)}`);
      const echo = JSON.parse(bodyText(res)) as Echo;
      equal(echo.path, `/k?i=${i}`);
      equal(echo.pid, warm.pid);
    }
  });

  await t.step("sequential proxied requests reuse one upstream connection", async () => {
    using conn = await RawClient.open(d.port);
    const upstreamPorts = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const res = await conn.request("GET", `/c?i=${i}`, [["Host", "alice.conn.localhost"]]);
      equal(res.status, 200, `request ${i}: ${bodyText(res)}`);
      const echo = JSON.parse(bodyText(res)) as { pid: number; client_port: number };
      d.groups.add(echo.pid);
      upstreamPorts.add(echo.client_port);
    }
    ok(
      upstreamPorts.size <= 2,
      `50 sequential requests used ${upstreamPorts.size} upstream connections`,
    );
  });
  await d.instances();
});
