/**
 * Tenant tokens stay in their lane, and the management plane stays bounded, against a real
 * `ten serve`: weights are admin-only, what a tenant starts obeys `auto_create` and takes no
 * shared traffic (also after a restart), `shared_route = false`, `/metrics` behind a token or on
 * `metrics_bind`, a 100 MiB body refused unread, and the log stream cap.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  type Daemon,
  freePort,
  okService,
  rawRequest,
  settingsBlock,
  startDaemon,
  waitFor,
} from "../testkit/mod.ts";

const spawnAs = (d: Daemon, token: string, service: string, id: string) =>
  d.apiAs(token, "POST", "/api/instances/spawn", { process: service, id });

Deno.test("a tenant token cannot change weights and starts only what auto_create allows", async (t) => {
  const config = settingsBlock() +
    okService("notes", { auto_create_allow: ["alice", "bob"], auto_create_limit: 1 }) +
    okService("billing", { auto_create: false });
  await using d = await startDaemon({ config });
  const alice = await d.tenantToken("alice");
  const bob = await d.tenantToken("bob");
  const mallory = await d.tenantToken("mallory");

  await t.step("spawn in a service with auto_create = false: 403, nothing started", async () => {
    const res = await spawnAs(d, alice, "billing", "alice");
    equal(res.status, 403, res.body);
    equal(await d.instance("billing:alice"), undefined);
  });

  await t.step("spawn of an id off the allow list: 403", async () => {
    const res = await spawnAs(d, mallory, "notes", "mallory");
    equal(res.status, 403, res.body);
    equal(await d.instance("notes:mallory"), undefined);
  });

  await t.step("spawn on the allow list: started with weight 0", async () => {
    const res = await spawnAs(d, alice, "notes", "alice");
    equal(res.status, 200, res.body);
    const row = await d.instance("notes:alice");
    deepEqual([row?.status, row?.weight], ["running", 0]);
  });

  await t.step("weight of its own instance: 403, unchanged", async () => {
    const res = await d.apiAs(alice, "PUT", "/api/instances/notes:alice/weight", { weight: 100 });
    equal(res.status, 403, res.body);
    equal((await d.instance("notes:alice"))?.weight, 0);
  });

  await t.step("over auto_create_limit: 403", async () => {
    const res = await spawnAs(d, bob, "notes", "bob");
    equal(res.status, 403, res.body);
    ok(res.body.includes("auto_create_limit"), res.body);
    equal(await d.instance("notes:bob"), undefined);
  });

  await t.step("restart and stop of its own instance still work", async () => {
    const restarted = await d.apiAs(alice, "POST", "/api/instances/notes:alice/restart");
    equal(restarted.status, 200, restarted.body);
    const stopped = await d.apiAs(alice, "DELETE", "/api/instances/notes:alice");
    equal(stopped.status, 204, stopped.body);
  });

  await t.step("after a daemon restart the tenant's instance still has weight 0", async () => {
    const started = await spawnAs(d, alice, "notes", "alice");
    equal(started.status, 200, started.body);
    await d.stop();
    await d.start();
    const row = await d.running("notes:alice", { timeoutMs: 20_000 });
    equal(row.weight, 0);
  });
});

Deno.test("shared_route = false: the shared route answers 404, direct routes work", async () => {
  const config = settingsBlock() + okService("notes", { shared_route: false }) +
    '\n[instances]\nnotes = ["alice"]\n';
  await using d = await startDaemon({ config });
  await d.running("notes:alice", { timeoutMs: 20_000 });
  const direct = await d.request("alice.notes.localhost", "/hello");
  equal(direct.status, 200, direct.body);
  const shared = await d.request("notes.localhost", "/hello");
  equal(shared.status, 404, shared.body);
});

Deno.test("/metrics needs a token on the main listener; metrics_bind serves it without one", async (t) => {
  const metricsPort = freePort();
  const config = settingsBlock({ metrics_bind: `127.0.0.1:${metricsPort}` }) + okService("notes");
  await using d = await startDaemon({ config });
  await d.spawn("notes", "alice");
  const alice = await d.tenantToken("alice");
  const scrape = (headers: Record<string, string> = {}) =>
    rawRequest(d.port, "localhost", "/metrics", { headers, timeoutMs: 10_000 });

  await t.step("no token: 401; a tenant token: 403; the admin token: 200", async () => {
    equal((await scrape()).status, 401);
    equal((await scrape({ authorization: `Bearer ${alice}` })).status, 403);
    const admin = await scrape({ authorization: `Bearer ${d.token}` });
    equal(admin.status, 200);
    ok(admin.body.includes("tenement_instances_up 1"), admin.body);
  });

  await t.step("metrics_bind: 200 without a token, and nothing but /metrics", async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    equal(res.status, 200);
    ok((await res.text()).includes('tenement_instance_healthy{instance="alice",process="notes"}'));
    const other = await fetch(`http://127.0.0.1:${metricsPort}/api/instances`);
    equal(other.status, 404);
    await other.body?.cancel();
  });
});

/** The daemon's resident set size in bytes, from /proc. */
async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

/**
 * Sends a POST with a 100 MiB body (declared or chunked) at the API over a raw connection,
 * writing until the daemon answers; returns the status line and how many body bytes it took.
 */
async function hugeBody(d: Daemon, chunked: boolean): Promise<{ status: string; sent: number }> {
  const total = 100 * 1024 * 1024;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: d.port });
  const head = [
    "POST /api/instances/spawn HTTP/1.1",
    "Host: localhost",
    `Authorization: Bearer ${d.token}`,
    "Content-Type: application/json",
    chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${total}`,
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(head));
  const reply = (async () => {
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n)).split("\r\n")[0]!;
  })();
  let answered = false;
  void reply.then(() => answered = true, () => answered = true);
  const chunk = new Uint8Array(256 * 1024).fill(0x20);
  const framed = chunked
    ? new Uint8Array([
      ...new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`),
      ...chunk,
      ...new TextEncoder().encode("\r\n"),
    ])
    : chunk;
  let sent = 0;
  try {
    while (sent < total && !answered) {
      await conn.write(framed);
      sent += chunk.length;
    }
  } catch {
    // The daemon closed the connection on us: what matters is that it answered.
  }
  const status = await reply;
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  return { status, sent };
}

Deno.test("a 100 MiB body to the API is refused with 413 without being read", async (t) => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  const before = await rssBytes(d.pid);
  for (const chunked of [false, true]) {
    await t.step(chunked ? "chunked" : "with Content-Length", async () => {
      const { status, sent } = await hugeBody(d, chunked);
      equal(status, "HTTP/1.1 413 Payload Too Large");
      ok(sent < 50 * 1024 * 1024, `the daemon took ${sent} bytes before answering`);
    });
  }
  const after = await rssBytes(d.pid);
  ok(after - before < 40 * 1024 * 1024, `RSS grew from ${before} to ${after}`);
  // Still serving.
  equal((await d.api("GET", "/api/instances")).status, 200);
});

Deno.test("a token may hold at most 4 log streams; a closed one frees its slot", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  const alice = await d.tenantToken("alice");
  const open = () =>
    fetch(`${d.url}/api/logs/stream`, { headers: { authorization: `Bearer ${alice}` } });
  const streams: Response[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const res = await open();
      equal(res.status, 200);
      streams.push(res);
    }
    const refused = await open();
    equal(refused.status, 429);
    await refused.body?.cancel();
    await streams.pop()!.body?.cancel();
    const again = await waitFor(async () => {
      const res = await open();
      if (res.status === 200) return res;
      await res.body?.cancel();
      return undefined;
    }, { what: "a free log stream slot" });
    streams.push(again);
  } finally {
    for (const stream of streams) await stream.body?.cancel();
  }
});
