/**
 * Tests for the plain-HTTP listener of HTTPS mode (`src/proxy/redirect_server.ts`) over real
 * sockets with a raw client, so the exact Location, status and framing are what is checked:
 * 308 to HTTPS keeping host, path and query; ACME HTTP-01 challenge answers; 400 for any Host a
 * redirect could not safely be built from.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  redirectHostOf,
  type RedirectServer,
  startRedirectServer,
} from "../src/proxy/redirect_server.ts";
import type { ChallengeResponder } from "../src/tls/tls_types.ts";
import { bodyText, headerOf, RawClient, type RawExchangeResponse } from "../testkit/mod.ts";

const TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";

class Challenges implements ChallengeResponder {
  readonly asked: string[] = [];
  readonly pending = new Map([[TOKEN, `${TOKEN}.thumbprint`]]);
  keyAuthorization(token: string): string | undefined {
    this.asked.push(token);
    return this.pending.get(token);
  }
}

function redirector(httpsPort: number, challenges = new Challenges()): RedirectServer {
  return startRedirectServer({ hostname: "127.0.0.1", port: 0, httpsPort, challenges });
}

/** One raw request (`head` without its final CRLF) on a new connection. */
async function exchange(
  server: RedirectServer,
  head: string,
  method = "GET",
): Promise<RawExchangeResponse> {
  using client = await RawClient.open(server.addr.port);
  await client.send(`${head}\r\n\r\n`);
  const res = await client.read(method);
  ok(await client.isClosedWithin(5_000), "the connection is closed after the answer");
  return res;
}

Deno.test("redirect server: 308 to HTTPS keeps host, path and query; the port is added unless 443", async (t) => {
  await t.step("port 443", async () => {
    await using server = redirector(443);
    const res = await exchange(
      server,
      "GET /notes/a%20b?x=1&y=%2F HTTP/1.1\r\nHost: Alice.Notes.Example.COM:80",
    );
    equal(res.status, 308);
    equal(headerOf(res, "location"), "https://alice.notes.example.com/notes/a%20b?x=1&y=%2F");
    equal(headerOf(res, "connection"), "close");
    ok(bodyText(res).includes("https://alice.notes.example.com/notes/a%20b?x=1&y=%2F"));
  });
  await using server = redirector(8443);
  await t.step("another port, a path starting with //, an IP literal, HEAD", async () => {
    const res = await exchange(server, "POST //evil.test/x HTTP/1.1\r\nHost: app.example.com");
    equal(headerOf(res, "location"), "https://app.example.com:8443//evil.test/x");
    const ip = await exchange(server, "GET / HTTP/1.1\r\nHost: [::1]:8080");
    equal(headerOf(ip, "location"), "https://[::1]:8443/");
    const v4 = await exchange(server, "GET /a HTTP/1.1\r\nHost: 192.0.2.7");
    equal(headerOf(v4, "location"), "https://192.0.2.7:8443/a");
    const head = await exchange(server, "HEAD /a?b HTTP/1.1\r\nHost: app.example.com.", "HEAD");
    equal(head.status, 308);
    equal(headerOf(head, "location"), "https://app.example.com:8443/a?b");
    equal(head.body.length, 0);
  });
  await t.step("an absolute-form target redirects to its own authority", async () => {
    const res = await exchange(server, "GET http://b.example.com/p?q HTTP/1.1\r\nHost: x");
    equal(headerOf(res, "location"), "https://b.example.com:8443/p?q");
  });
  await t.step("a request with a body still gets its answer", async () => {
    const res = await exchange(
      server,
      `POST /form HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 100000\r\n\r\n${
        "x".repeat(100_000)
      }`,
    );
    equal(res.status, 308);
  });
});

Deno.test("redirect server: ACME HTTP-01 challenges are answered for any Host; others are 404", async () => {
  const challenges = new Challenges();
  await using server = redirector(443, challenges);
  const path = `/.well-known/acme-challenge/${TOKEN}`;
  const res = await exchange(server, `GET ${path} HTTP/1.1\r\nHost: test.example.test:5002`);
  equal(res.status, 200);
  equal(bodyText(res), `${TOKEN}.thumbprint`);
  ok(headerOf(res, "content-type")?.startsWith("text/plain"));
  const noHost = await exchange(server, `GET ${path} HTTP/1.0`);
  equal(noHost.status, 200, "validators may send HTTP/1.0 without Host");
  const head = await exchange(server, `HEAD ${path} HTTP/1.1\r\nHost: a.test`, "HEAD");
  equal(head.status, 200);
  equal(headerOf(head, "content-length"), String(`${TOKEN}.thumbprint`.length));
  equal(head.body.length, 0);
  const unknown = await exchange(
    server,
    "GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: a",
  );
  equal(unknown.status, 404);
  const before = challenges.asked.length;
  for (const bad of ["a.b", "%2e%2e", "x/y", ""]) {
    const res = await exchange(
      server,
      `GET /.well-known/acme-challenge/${bad} HTTP/1.1\r\nHost: a`,
    );
    equal(res.status, 404, bad);
  }
  equal(challenges.asked.length, before, "invalid tokens never reach the responder");
});

Deno.test("redirect server: a missing or invalid Host is a 400, never a redirect", async (t) => {
  await using server = redirector(443);
  for (
    const head of [
      "GET / HTTP/1.0",
      "GET / HTTP/1.1\r\nHost: ",
      "GET / HTTP/1.1\r\nHost: evil.com/x",
      "GET / HTTP/1.1\r\nHost: //",
      "GET / HTTP/1.1\r\nHost: evil.com@good.com",
      "GET / HTTP/1.1\r\nHost: a..b",
      "GET / HTTP/1.1\r\nHost: a.b:99999",
      "GET / HTTP/1.1\r\nHost: [::1",
      "GET / HTTP/1.1\r\nHost: a\tb",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b",
      "GET / HTTP/1.1\r\nHost: x\r\nX: y\rLocation: z",
      "GET /\x7f HTTP/1.1\r\nHost: a.example.com",
    ]
  ) {
    await t.step(JSON.stringify(head), async () => {
      const res = await exchange(server, head);
      equal(res.status, 400);
      equal(headerOf(res, "location"), undefined);
    });
  }
  await t.step("a head over 8 KiB", async () => {
    const res = await exchange(server, `GET / HTTP/1.1\r\nHost: a\r\nX: ${"y".repeat(9_000)}`);
    equal(res.status, 400);
  });
});

Deno.test("redirectHostOf() keeps names and IP literals, drops port and trailing dot", () => {
  deepEqual(
    ["A.Example.com:8080", "a.example.com.", "10.0.0.1:80", "[2001:db8::1]:443", "_acme.x"].map(
      redirectHostOf,
    ),
    ["a.example.com", "a.example.com", "10.0.0.1", "[2001:db8::1]", "_acme.x"],
  );
  deepEqual(
    [null, "", "a/b", "a b", "a:b", `${"a".repeat(64)}.com`, `${"a.".repeat(127)}a`].map(
      redirectHostOf,
    ),
    [null, null, null, null, null, null, null],
  );
});

Deno.test("redirect server: a silent client is dropped after the head timeout; shutdown closes the rest", async () => {
  const server = startRedirectServer({
    hostname: "127.0.0.1",
    port: 0,
    httpsPort: 443,
    challenges: new Challenges(),
    headTimeoutMs: 200,
  });
  using silent = await RawClient.open(server.addr.port);
  ok(await silent.isClosedWithin(5_000));
  using waiting = await RawClient.open(server.addr.port);
  await waiting.send("GET / HTTP/1.1\r\n");
  await server.shutdown();
  ok(await waiting.isClosedWithin(5_000));
});

Deno.test("redirect server: one client holds at most maxConnectionsPerClient connections; a freed slot serves again", async () => {
  await using server = startRedirectServer({
    hostname: "127.0.0.1",
    port: 0,
    httpsPort: 443,
    challenges: new Challenges(),
    maxConnectionsPerClient: 2,
  });
  using first = await RawClient.open(server.addr.port);
  using _second = await RawClient.open(server.addr.port);
  await first.send("GET / HTTP/1.1\r\n"); // both held, waiting for their heads
  using third = await RawClient.open(server.addr.port);
  ok(await third.isClosedWithin(5_000), "a third connection of the client was kept");
  first.close();
  const res = await waitForAnswer(server);
  equal(res.status, 200);
});

/** A challenge request, retried until a slot is free again. */
async function waitForAnswer(server: RedirectServer): Promise<RawExchangeResponse> {
  for (let attempt = 0;; attempt++) {
    try {
      return await exchange(
        server,
        `GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nHost: a.example.test`,
      );
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
