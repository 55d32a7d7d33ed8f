/**
 * Abuse of the management plane and the front, each case bounded in time and requests, adding to
 * `edge_security_test.ts` (bad tokens from one address, forged `X-Forwarded-For`, silent
 * connections) and `tenant_lane_test.ts` (a 100 MiB body with the admin token): bad tokens from
 * many addresses past the limit on all failures while the admin and a tenant keep working, a
 * 100 MiB body from callers who may not send one, and Host header fuzz through the raw front
 * with `auto_create` on, where a routing bug would start a process.
 * @module
 */
import { equal, fail, ok } from "node:assert/strict";
import {
  closeQuietly,
  type Daemon,
  okService,
  RawClient,
  rawRequest,
  settingsBlock,
  startDaemon,
} from "../testkit/mod.ts";

/** A GET of the API's instance list with `token`, optionally for a forwarded client. */
async function listAs(d: Daemon, token: string, forwardedFor?: string): Promise<number> {
  const res = await rawRequest(d.port, "localhost", "/api/instances", {
    headers: {
      authorization: `Bearer ${token}`,
      ...(forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor }),
    },
    timeoutMs: 15_000,
  });
  return res.status;
}

Deno.test("bad tokens from 700 addresses trip the limit on all failures; the admin and a tenant never see 429", async () => {
  // Behind a trusted proxy each forwarded address is its own client: a distributed attacker.
  await using d = await startDaemon({
    config: settingsBlock({ trusted_proxies: ["127.0.0.1"] }) + okService("notes") +
      '\n[instances]\nnotes = ["alice"]\n',
  });
  const tenant = await d.tenantToken("notes:alice");
  const attacker = (i: number): Promise<number> =>
    listAs(d, `wrong-token-${i}`, `198.18.${i >> 8}.${i & 255}`);
  const seen = new Map<number, number>();
  for (let wave = 0; wave < 14; wave++) {
    // 50 bad tokens at once, each from a fresh address, beside the admin and the tenant.
    const [admin, own, ...bad] = await Promise.all([
      listAs(d, d.token),
      listAs(d, tenant, "198.18.200.1"),
      ...Array.from({ length: 50 }, (_, i) => attacker(wave * 50 + i)),
    ]);
    equal(admin, 200, `admin in wave ${wave}`);
    equal(own, 200, `tenant in wave ${wave}`);
    for (const status of bad) seen.set(status, (seen.get(status) ?? 0) + 1);
  }
  // 600 failures a minute in all: the rest are refused though each address failed once.
  equal(seen.get(401), 600, JSON.stringify([...seen]));
  equal(seen.get(429), 100, JSON.stringify([...seen]));
  // A valid token from an address that never failed, and from one that did, is still served.
  equal(await listAs(d, d.token, "198.18.0.1"), 200);
  equal(await listAs(d, tenant, "198.18.250.250"), 200);
});

/**
 * Sends `request` (method and target) with a 100 MiB body (declared length) and `headers`, writing until the daemon
 * answers; the status line and how many body bytes were written.
 */
async function hugeBody(
  d: Daemon,
  request: string,
  headers: readonly string[],
): Promise<{ status: string; sent: number }> {
  const total = 100 * 1024 * 1024;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: d.port });
  const head = [
    `${request} HTTP/1.1`,
    "Host: localhost",
    ...headers,
    "Content-Type: application/json",
    `Content-Length: ${total}`,
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(head));
  let answered = false;
  const reply = (async () => {
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n)).split("\r\n")[0]!;
  })().finally(() => answered = true);
  const chunk = new Uint8Array(256 * 1024).fill(0x20);
  let sent = 0;
  try {
    while (sent < total && !answered) {
      await conn.write(chunk);
      sent += chunk.length;
    }
  } catch {
    // The daemon closed the connection: what matters is that it answered first.
  }
  const status = await reply;
  closeQuietly(conn);
  return { status, sent };
}

async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

Deno.test("a 100 MiB body from a caller who may not send it is refused before it is read", async () => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes") + '\n[instances]\nnotes = ["alice"]\n',
  });
  const tenant = await d.tenantToken("alice");
  const before = await rssBytes(d.pid);
  const cases: [string, string, readonly string[], string][] = [
    ["no token", "POST /api/instances/spawn", [], "401"],
    ["a wrong token", "POST /api/deploy", ["Authorization: Bearer wrong-token-0"], "401"],
    ["a tenant, on an admin route", "POST /api/deploy", [`Authorization: Bearer ${tenant}`], "403"],
    [
      "a tenant, on a weight",
      "PUT /api/instances/notes:alice/weight",
      [`Authorization: Bearer ${tenant}`],
      "403",
    ],
  ];
  for (const [who, request, headers, expected] of cases) {
    const { status, sent } = await hugeBody(d, request, headers);
    ok(status.startsWith(`HTTP/1.1 ${expected} `), `${who}: ${status}`);
    ok(sent < 50 * 1024 * 1024, `${who}: the daemon took ${sent} bytes before answering`);
  }
  const after = await rssBytes(d.pid);
  ok(after - before < 40 * 1024 * 1024, `RSS grew from ${before} to ${after}`);
  equal((await d.api("GET", "/api/instances")).status, 200);
});

const latin1 = (bytes: readonly number[]): string => String.fromCharCode(...bytes);

/** Host header fuzz: a name, the request target and the header fields (Latin-1, byte for byte). */
const HOST_FUZZ: readonly (readonly [string, string, readonly [string, string][]])[] = [
  ["very long host", "/", [["Host", `${"a".repeat(70_000)}.app.localhost`]]],
  ["a 300-character label", "/", [["Host", `${"a".repeat(300)}.app.localhost`]]],
  ["UTF-8 bytes", "/", [["Host", `${latin1([0xc3, 0xa9])}lice.app.localhost`]]],
  ["a lone 0xff byte", "/", [["Host", `alice${latin1([0xff])}.app.localhost`]]],
  ["IPv4 literal", "/", [["Host", "127.0.0.1"]]],
  ["IPv4 literal with port", "/", [["Host", "127.0.0.1:8080"]]],
  ["integer IPv4", "/", [["Host", "2130706433"]]],
  ["IPv6 literal", "/", [["Host", "[::1]"]]],
  ["IPv6 with port", "/", [["Host", "[::1]:8080"]]],
  ["IPv4-mapped IPv6 with port", "/", [["Host", "[::ffff:127.0.0.1]:80"]]],
  ["IPv6 zone id", "/", [["Host", "[fe80::1%25eth0]:80"]]],
  ["unclosed IPv6", "/", [["Host", "[::1:80"]]],
  ["duplicate Host", "/", [["Host", "alice.app.localhost"], ["Host", "localhost"]]],
  ["duplicate Host, same value", "/", [["Host", "alice.app.localhost"], [
    "Host",
    "alice.app.localhost",
  ]]],
  ["a `..` label", "/", [["Host", "..app.localhost"]]],
  ["an empty label", "/", [["Host", "alice..app.localhost"]]],
  ["`..` before the domain", "/", [["Host", "alice.app...localhost"]]],
  ["a slash and `..`", "/", [["Host", "alice.app.localhost/.."]]],
  ["%2e labels", "/", [["Host", "%2e%2e.app.localhost"]]],
  ["%2e between labels", "/", [["Host", "alice%2eapp.localhost"]]],
  ["three labels", "/", [["Host", "x.alice.app.localhost"]]],
  ["absolute-form to the API, Host names an instance", "http://localhost/api/instances", [[
    "Host",
    "alice.app.localhost",
  ]]],
  ["absolute-form elsewhere, Host names an instance", "http://evil.example/", [[
    "Host",
    "alice.app.localhost",
  ]]],
  ["absolute-form with `..`, Host names an instance", "http://..app.localhost/", [[
    "Host",
    "alice.app.localhost",
  ]]],
  ["absolute-form with userinfo", "http://alice.app.localhost@localhost/", [[
    "Host",
    "localhost",
  ]]],
  ["absolute-form with %2e", "http://alice%2eapp.localhost/", [["Host", "localhost"]]],
  ["absolute-form with a bad port", "http://alice.app.localhost:99999999/", [[
    "Host",
    "localhost",
  ]]],
  ["empty Host", "/", [["Host", ""]]],
  ["no Host", "/", []],
  ["userinfo a@b", "/", [["Host", "a@b"]]],
  ["userinfo before an instance", "/", [["Host", "admin@alice.app.localhost"]]],
  ["NUL", "/", [["Host", `alice${latin1([0])}.app.localhost`]]],
  ["tab inside", "/", [["Host", "alice\t.app.localhost"]]],
  ["DEL", "/", [["Host", `alice${latin1([0x7f])}.app.localhost`]]],
  ["lone CR", "/", [["Host", "alice.app.localhost\rX-Evil: 1"]]],
  ["escape sequence", "/", [["Host", `${latin1([0x1b])}[31malice.app.localhost`]]],
  ["space inside", "/", [["Host", "alice .app.localhost"]]],
  ["a bad port", "/", [["Host", "alice.app.localhost:80x"]]],
  ["a long port", "/", [["Host", "alice.app.localhost:123456"]]],
];

Deno.test("Host header fuzz through the front: no crash, no 5xx, no process started", async () => {
  // auto_create is on with any id allowed: a Host misread as `alice.app` would start alice.
  await using d = await startDaemon({
    config: settingsBlock() + okService("app", { auto_create: true }),
  });
  const failures: string[] = [];
  for (const [name, target, fields] of HOST_FUZZ) {
    using client = await RawClient.open(d.port, 10_000);
    try {
      await client.send(
        `GET ${target} HTTP/1.1\r\n${fields.map(([k, v]) => `${k}: ${v}\r\n`).join("")}` +
          "Connection: close\r\n\r\n",
      );
      const res = await client.read();
      if (res.status >= 500) failures.push(`${name}: ${res.status}`);
    } catch {
      // The front may close on bytes it will not parse; that is a refusal, not a failure.
    }
  }
  if (failures.length > 0) fail(`5xx answers:\n${failures.join("\n")}`);
  equal((await rawRequest(d.port, "localhost", "/health")).status, 200);
  equal(d.pid > 0 && (await Deno.stat(`/proc/${d.pid}`)).isDirectory, true);
  const ps = await d.ten(["ps", "--all", "--json"]);
  equal(ps.code, 0, ps.stderr);
  equal(ps.stdout.trim(), "[]", `an instance was started:\n${ps.stdout}`);
  // The front still routes a well-formed Host, so the fuzz was heard by a working router.
  equal((await rawRequest(d.port, `alice.app.localhost:${d.port}`, "/health")).status, 200);
});
