/**
 * Abuse tests of tenement's network edge, each bounded in time and requests: an attacker's bad
 * tokens next to a working admin, forged `X-Forwarded-For` from untrusted and trusted peers (the
 * failure limit and what tenants receive), silent connections against the first-byte timeout and
 * the per-client connection cap. Real `ten serve` where the wiring matters; the front alone
 * where a second client address is needed (IPv4 and IPv6 loopback on one dual-stack listener).
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { startFrontServer } from "../src/proxy/front_server.ts";
import { startRedirectServer } from "../src/proxy/redirect_server.ts";
import type { TargetResolver } from "../src/proxy/target.ts";
import {
  apiSpawn,
  closeQuietly,
  type Daemon,
  DATA_DIR_ENV,
  okService,
  rawRequest,
  settingsBlock,
  startDaemon,
  type TomlValue,
  waitFor,
} from "../testkit/mod.ts";

/** A daemon with service `app` (ok_server.py, which echoes the request headers) and `app:alice`. */
async function appDaemon(settings: { readonly [key: string]: TomlValue } = {}): Promise<Daemon> {
  const d = await startDaemon({
    config: settingsBlock(settings) + okService("app", { env: { ...DATA_DIR_ENV } }),
  });
  await apiSpawn(d, "app", "alice");
  return d;
}

/** A GET of the API's instance list with `token`, from this host, with optional extra headers. */
async function listAs(d: Daemon, token: string, headers: Record<string, string> = {}) {
  return await rawRequest(d.port, "localhost", "/api/instances", {
    headers: { authorization: `Bearer ${token}`, ...headers },
    timeoutMs: 15_000,
  });
}

/** The `X-Forwarded-For` the instance `alice.app` received for a request with `headers`. */
async function forwardedForSeenByTenant(
  d: Daemon,
  headers: Record<string, string>,
): Promise<string | undefined> {
  const res = await rawRequest(d.port, `alice.app.localhost:${d.port}`, "/echo", {
    headers,
    timeoutMs: 15_000,
  });
  equal(res.status, 200, res.body.slice(0, 200));
  const echo = JSON.parse(res.body) as { headers: Record<string, string> };
  return echo.headers["x-forwarded-for"];
}

Deno.test("an attacker's bad tokens from the admin's own address never lock the admin out", async () => {
  // Behind a local reverse proxy everyone is 127.0.0.1, as the attacker and the admin are here.
  await using d = await appDaemon();
  for (let i = 0; i < 25; i++) {
    const bad = await listAs(d, `wrong-token-${i}`);
    equal(bad.status, i < 10 ? 401 : 429, `bad token ${i}`);
    if (bad.status === 429) ok(Number(bad.headers.get("retry-after")) >= 1, "Retry-After");
    equal((await listAs(d, d.token)).status, 200, `admin after ${i + 1} bad tokens`);
  }
  // Concurrent bad tokens are all counted, and the admin is still served meanwhile.
  const burst = await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => listAs(d, `wrong-burst-${i}`)),
    listAs(d, d.token),
  ]);
  equal(burst.at(-1)!.status, 200);
  ok(burst.slice(0, -1).every((res) => res.status === 429));
});

Deno.test("a forged X-Forwarded-For from an untrusted peer neither evades the limit nor reaches tenants", async () => {
  await using d = await appDaemon();
  for (let i = 0; i < 12; i++) {
    // A fresh forged address each time: had it been believed, every attempt would be a first.
    const bad = await listAs(d, `wrong-token-${i}`, { "x-forwarded-for": `198.51.100.${i}` });
    equal(bad.status, i < 10 ? 401 : 429, `bad token ${i} with a forged address`);
  }
  // Nor can a forged address put the blame on the admin's: the admin is served.
  equal((await listAs(d, d.token, { "x-forwarded-for": "198.51.100.0" })).status, 200);
  // Tenants get the peer's address alone, not the client's list with it appended.
  equal(await forwardedForSeenByTenant(d, { "x-forwarded-for": "6.6.6.6" }), "127.0.0.1");
  equal(await forwardedForSeenByTenant(d, {}), "127.0.0.1");
});

Deno.test("behind a trusted proxy the limit keys on the forwarded client and tenants keep the chain", async () => {
  await using d = await appDaemon({ trusted_proxies: ["127.0.0.1", "::1"] });
  const attacker = { "x-forwarded-for": "203.0.113.66" };
  for (let i = 0; i < 12; i++) {
    equal((await listAs(d, `wrong-token-${i}`, attacker)).status, i < 10 ? 401 : 429, `bad ${i}`);
  }
  // Another client behind the same proxy is not limited by the attacker's failures.
  const other = await listAs(d, "wrong-token-x", { "x-forwarded-for": "203.0.113.7" });
  equal(other.status, 401);
  // A spoofed entry to the left of the real client changes nothing: the proxy appended the
  // attacker's real address last.
  const spoofed = await listAs(d, "wrong-token-y", {
    "x-forwarded-for": "203.0.113.7, 203.0.113.66",
  });
  equal(spoofed.status, 429);
  // The admin, even from the attacker's address, is served.
  equal((await listAs(d, d.token, attacker)).status, 200);
  equal(
    await forwardedForSeenByTenant(d, { "x-forwarded-for": "6.6.6.6" }),
    "6.6.6.6, 127.0.0.1",
  );
});

Deno.test("silent connections: one client is capped and each is closed after first_byte_timeout", async () => {
  await using d = await appDaemon({ first_byte_timeout: 1, max_connections_per_client: 40 });
  const silent: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port: d.port }));
    }
    const closed = silent.map((conn) => readUntilClosed(conn));
    let closedCount = 0;
    for (const done of closed) done.then(() => closedCount++);
    // The 20 beyond the cap are closed on accept, long before the first-byte timeout.
    await waitFor(() => closedCount >= 20, {
      timeoutMs: 900,
      what: "connections beyond the cap closed",
    });
    // Then the first-byte timeout closes the rest (1 s, plus the sweep); none waits 75 s.
    await waitFor(() => closedCount === 60, {
      timeoutMs: 10_000,
      what: "silent connections closed",
    });
    equal((await listAs(d, d.token)).status, 200, "served again once the slots are free");
  } finally {
    for (const conn of silent) closeQuietly(conn);
  }
});

/** Resolves when the peer closes `conn` (end of stream, reset or our own close). */
async function readUntilClosed(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(1024);
  try {
    while ((await conn.read(buf)) !== null) {
      // Nothing is expected; keep reading until the end.
    }
  } catch {
    // Reset, or closed here.
  }
}

const noInstances: TargetResolver = {
  resolveDirect: () => Promise.reject(new Error("no instances in this test")),
  resolveWeighted: () => Promise.reject(new Error("no instances in this test")),
  beginRequest: () => () => {},
  waitForRestart: () => Promise.resolve(undefined),
};

Deno.test("2000 silent connections from one client hit its cap while another client is served", async () => {
  // The front on a dual-stack listener: 127.0.0.1 arrives as ::ffff:127.0.0.1, ::1 as itself.
  const api = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => new Response(`xff=${req.headers.get("x-forwarded-for")}`),
  );
  await using front = startFrontServer({
    port: 0,
    hostname: "::",
    domain: "localhost",
    resolver: noInstances,
    fallback: { kind: "tcp", hostname: "127.0.0.1", port: api.addr.port },
    firstByteTimeoutMs: 3_000,
    maxConnectionsPerClient: 256,
  });
  const port = front.addr.port;
  const silent: Deno.TcpConn[] = [];
  let closedCount = 0;
  try {
    for (let batch = 0; batch < 20; batch++) {
      const conns = await Promise.all(
        Array.from({ length: 100 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
      );
      for (const conn of conns) {
        silent.push(conn);
        readUntilClosed(conn).then(() => closedCount++);
      }
    }
    await waitFor(() => closedCount >= 2000 - 256, {
      timeoutMs: 1_500,
      what: "the connections beyond the per-client cap closed",
    });
    equal(closedCount, 2000 - 256, "exactly the cap is held");
    // Another client is served at once (its forged X-Forwarded-For replaced by its address).
    const res = await rawRequestTo("::1", port, { "x-forwarded-for": "198.51.100.1" });
    ok(res.startsWith("HTTP/1.1 200"), res);
    ok(res.endsWith("xff=::1"), res);
    // The held ones are closed after the first-byte timeout, and the first client is served.
    await waitFor(() => closedCount === 2000, { timeoutMs: 10_000, what: "silent ones closed" });
    const again = await rawRequestTo("127.0.0.1", port, { "x-forwarded-for": "198.51.100.1" });
    ok(again.endsWith("xff=::ffff:127.0.0.1"), again);
  } finally {
    for (const conn of silent) closeQuietly(conn);
    await front.shutdown({ graceMs: 0 });
    await api.shutdown();
  }
});

/** One `GET /` with Host `localhost` to `hostname:port`; the whole response as text. */
async function rawRequestTo(
  hostname: string,
  port: number,
  headers: Record<string, string>,
): Promise<string> {
  const conn = await Deno.connect({ hostname, port });
  try {
    let head = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    await conn.write(new TextEncoder().encode(`${head}\r\n`));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    closeQuietly(conn);
  }
}

Deno.test("the HTTPS mode's port-80 listener caps connections per client too", async () => {
  await using redirect = startRedirectServer({
    hostname: "::",
    port: 0,
    httpsPort: 443,
    challenges: { keyAuthorization: () => undefined },
    maxConnectionsPerClient: 5,
  });
  const port = redirect.addr.port;
  const silent: Deno.TcpConn[] = [];
  let closedCount = 0;
  try {
    for (let i = 0; i < 8; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      silent.push(conn);
      readUntilClosed(conn).then(() => closedCount++);
    }
    await waitFor(() => closedCount >= 3, { timeoutMs: 5_000, what: "3 beyond the cap closed" });
    equal(closedCount, 3);
    const res = await rawRequestTo("::1", port, {});
    ok(res.startsWith("HTTP/1.1 308"), res);
  } finally {
    for (const conn of silent) closeQuietly(conn);
  }
});

Deno.test("ten serve warns at start when the open-files limit is below max_connections", async () => {
  const limits = await Deno.readTextFile("/proc/self/limits").catch(() => "");
  const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
  if (soft === undefined) return; // Not Linux, or no limit: nothing to check against.
  await using d = await startDaemon({
    config: settingsBlock({ max_connections: Number(soft) + 1 }) + okService("app"),
  });
  ok(
    d.problems.some((line) =>
      line.includes("open-files limit") && line.includes("max_connections")
    ),
    d.problems.join("\n"),
  );
});
