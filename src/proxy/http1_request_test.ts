import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  fieldValue,
  MAX_REQUEST_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
  RequestParseError,
} from "./http1_request.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of `text`, one byte per code unit (so "\x80" stays one byte). */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function parse(text: string): RequestHead {
  const head = parseRequestHead(latin1(text));
  ok(head !== null, `expected a complete head: ${JSON.stringify(text)}`);
  return head;
}

Deno.test("parseRequestHead() accepts valid requests and reads their semantics", async (t) => {
  const cases: {
    name: string;
    text: string;
    check: (head: RequestHead) => void;
  }[] = [
    {
      name: "a plain GET",
      text: "GET /a?b=1 HTTP/1.1\r\nHost: x.example\r\nAccept: */*\r\n\r\n",
      check: (h) => {
        equal(h.method, "GET");
        equal(h.target, "/a?b=1");
        equal(h.minorVersion, 1);
        equal(h.host, "x.example");
        deepEqual(h.framing, { kind: "none" });
        equal(h.isKeepAlive, true);
        equal(h.expectsContinue, false);
        equal(h.upgrade, null);
        deepEqual(h.headers.map((f) => [f.name, f.value]), [["host", "x.example"], [
          "accept",
          "*/*",
        ]]);
      },
    },
    {
      name: "names lower-cased, values trimmed, empty values kept",
      text: "GET / HTTP/1.1\r\nHOST:   x  \r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
      check: (h) =>
        deepEqual(h.headers.map((f) => [f.name, f.value]), [["host", "x"], ["x-empty", ""], [
          "x-tab",
          "v",
        ]]),
    },
    {
      name: "Content-Length framing",
      text: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n",
      check: (h) => deepEqual(h.framing, { kind: "length", length: 12 }),
    },
    {
      name: "Content-Length: 0",
      text: "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      check: (h) => deepEqual(h.framing, { kind: "length", length: 0 }),
    },
    {
      name: "chunked framing, case-insensitive",
      text: "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
      check: (h) => deepEqual(h.framing, { kind: "chunked" }),
    },
    {
      name: "HTTP/1.0 without Host, not kept alive",
      text: "GET / HTTP/1.0\r\n\r\n",
      check: (h) => {
        equal(h.minorVersion, 0);
        equal(h.host, null);
        equal(h.isKeepAlive, false);
      },
    },
    {
      name: "HTTP/1.0 with Connection: keep-alive",
      text: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
      check: (h) => equal(h.isKeepAlive, true),
    },
    {
      name: "HTTP/1.1 with Connection: close",
      text: "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n",
      check: (h) => {
        equal(h.isKeepAlive, false);
        deepEqual(h.connectionOptions, ["keep-alive", "close"]);
      },
    },
    {
      name: "Connection lines are combined",
      text: "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-a\r\nConnection: close\r\n\r\n",
      check: (h) => deepEqual(h.connectionOptions, ["x-a", "close"]),
    },
    {
      name: "Expect: 100-continue on HTTP/1.1",
      text: "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
      check: (h) => equal(h.expectsContinue, true),
    },
    {
      name: "Expect: 100-continue is ignored on HTTP/1.0",
      text: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
      check: (h) => equal(h.expectsContinue, false),
    },
    {
      name: "a WebSocket upgrade",
      text: "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      check: (h) => equal(h.upgrade, "websocket"),
    },
    {
      name: "Upgrade without Connection: upgrade is no upgrade",
      text: "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
      check: (h) => equal(h.upgrade, null),
    },
    {
      name: "Upgrade on HTTP/1.0 is ignored",
      text: "GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
      check: (h) => equal(h.upgrade, null),
    },
    {
      name: "absolute-form http:// becomes origin-form with its host",
      text: "GET http://Alice.Notes.localhost:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
      check: (h) => {
        equal(h.target, "/p?q=1");
        equal(h.host, "Alice.Notes.localhost:8080");
        equal(h.isAbsoluteForm, true);
      },
    },
    {
      name: "absolute-form without a path",
      text: "GET HTTP://h HTTP/1.1\r\nHost: h\r\n\r\n",
      check: (h) => equal(h.target, "/"),
    },
    {
      name: "absolute-form with only a query",
      text: "GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
      check: (h) => equal(h.target, "/?x=1"),
    },
    {
      name: "OPTIONS *",
      text: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
      check: (h) => equal(h.target, "*"),
    },
    {
      name: "empty lines before the request line are skipped",
      text: "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
      check: (h) => {
        equal(h.requestLineStart, 4);
        equal(h.headLength, 4 + "GET / HTTP/1.1\r\nHost: h\r\n\r\n".length);
      },
    },
    {
      name: "obs-text in a value is kept byte for byte",
      text: "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xe9\r\n\r\n",
      check: (h) => equal(fieldValue(h, "x-name"), "caf\xe9"),
    },
    {
      name: "an empty Host (no authority)",
      text: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
      check: (h) => equal(h.host, ""),
    },
    {
      name: "an IPv6 Host with a port",
      text: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
      check: (h) => equal(h.host, "[::1]:8080"),
    },
    {
      name: "headLength stops at the blank line; the body follows",
      text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET",
      check: (h) =>
        equal(h.headLength, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n".length),
    },
    {
      name: "field offsets point at their lines",
      text: "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n",
      check: (h) => {
        const bytes = latin1("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n");
        equal(decoder.decode(bytes.subarray(h.headers[1]!.start, h.headers[1]!.end)), "A: b\r\n");
        equal(h.requestLineEnd, 16);
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => c.check(parse(c.text)));
  }
});

Deno.test("parseRequestHead() returns null until the head is complete", () => {
  equal(parseRequestHead(encoder.encode("")), null);
  equal(parseRequestHead(encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n")), null);
  equal(parseRequestHead(encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n\r")), null);
  equal(parseRequestHead(encoder.encode("\r")), null);
});

Deno.test("parseRequestHead() gives the same result fed one byte at a time", () => {
  const text = "\r\nPOST /x HTTP/1.1\r\nHost: a.b\r\nContent-Length: 3\r\nX: y\r\n\r\nabc";
  const bytes = latin1(text);
  const whole = parseRequestHead(bytes);
  let incremental: RequestHead | null = null;
  let scanned = 0;
  for (let n = 1; n <= bytes.length && incremental === null; n++) {
    incremental = parseRequestHead(bytes.subarray(0, n), { searchFrom: scanned });
    scanned = n;
  }
  deepEqual(incremental, whole);
});

/** Requests that must be refused with a 400 before anything is forwarded. */
const MALFORMED: readonly { name: string; text: string }[] = [
  {
    name: "Content-Length and Transfer-Encoding",
    text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
  },
  {
    name: "Transfer-Encoding before Content-Length",
    text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
  },
  {
    name: "duplicate identical Content-Length",
    text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
  },
  {
    name: "duplicate different Content-Length",
    text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
  },
  { name: "Content-Length +5", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n" },
  { name: "Content-Length 5,5", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,5\r\n\r\n" },
  { name: "Content-Length -1", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n" },
  { name: "empty Content-Length", text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n" },
  {
    name: "hex Content-Length",
    text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
  },
  {
    name: "Content-Length with inner space",
    text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
  },
  {
    name: "Content-Length beyond safe integers",
    text: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456\r\n\r\n",
  },
  {
    name: "Transfer-Encoding gzip, chunked",
    text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
  },
  {
    name: "Transfer-Encoding chunked, identity",
    text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
  },
  {
    name: "Transfer-Encoding identity",
    text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
  },
  {
    name: "Transfer-Encoding xchunked",
    text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
  },
  {
    name: "two Transfer-Encoding lines",
    text:
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
  },
  {
    name: "Transfer-Encoding on HTTP/1.0",
    text: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
  },
  {
    name: "obs-fold with a space",
    text: "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n",
  },
  {
    name: "obs-fold with a tab",
    text: "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tc\r\n\r\n",
  },
  {
    name: "obs-fold hiding Transfer-Encoding",
    text: "POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n",
  },
  {
    name: "whitespace before the first field line",
    text: "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
  },
  { name: "bare LF line ends", text: "GET / HTTP/1.1\nHost: h\n\n" },
  { name: "bare LF in the middle", text: "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n" },
  { name: "bare LF before the request line", text: "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "bare CR in a value", text: "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n" },
  { name: "bare CR in the request line", text: "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "bare CR before the request line", text: "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "NUL in a value", text: "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n" },
  { name: "NUL in a name", text: "GET / HTTP/1.1\r\nHost: h\r\nX\x00Y: a\r\n\r\n" },
  { name: "control character in a value", text: "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n" },
  { name: "DEL in a value", text: "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n" },
  { name: "space before the colon", text: "GET / HTTP/1.1\r\nHost : h\r\n\r\n" },
  { name: "tab before the colon", text: "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n" },
  {
    name: "space before the colon of Transfer-Encoding",
    text: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
  },
  { name: "field line without a colon", text: "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n" },
  { name: "empty field name", text: "GET / HTTP/1.1\r\nHost: h\r\n: value\r\n\r\n" },
  { name: "invalid character in a name", text: "GET / HTTP/1.1\r\nHost: h\r\nX(Y): a\r\n\r\n" },
  {
    name: "head larger than 64 KiB",
    text: `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"a".repeat(MAX_REQUEST_HEAD_BYTES)}\r\n\r\n`,
  },
  {
    name: "incomplete head larger than 64 KiB",
    text: `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"a".repeat(MAX_REQUEST_HEAD_BYTES)}`,
  },
  {
    name: "more than 100 header fields",
    text: `GET / HTTP/1.1\r\nHost: h\r\n${"X-A: b\r\n".repeat(100)}\r\n`,
  },
  { name: "invalid method", text: "G(ET / HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "no method", text: " / HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "two spaces after the method", text: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "space in the target", text: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "non-ASCII in the target", text: "GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "fragment in the target", text: "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "target not starting with /", text: "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "asterisk with GET", text: "GET * HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "https:// absolute-form", text: "GET https://h/ HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "ftp:// absolute-form", text: "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "userinfo in absolute-form", text: "GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "empty authority", text: "GET http:///a HTTP/1.1\r\nHost: h\r\n\r\n" },
  { name: "CONNECT authority-form", text: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n" },
  { name: "HTTP/1.2", text: "GET / HTTP/1.2\r\nHost: h\r\n\r\n" },
  { name: "HTTP/2.0", text: "GET / HTTP/2.0\r\nHost: h\r\n\r\n" },
  { name: "the HTTP/2 preface", text: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" },
  { name: "lower-case version", text: "GET / http/1.1\r\nHost: h\r\n\r\n" },
  { name: "HTTP/0.9 request line", text: "GET /\r\n\r\n" },
  { name: "trailing space after the version", text: "GET / HTTP/1.1 \r\nHost: h\r\n\r\n" },
  { name: "HTTP/1.1 without Host", text: "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n" },
  { name: "two Host fields", text: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" },
  { name: "space inside Host", text: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n" },
  { name: "slash inside Host", text: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n" },
  { name: "userinfo in Host", text: "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n" },
  { name: "non-numeric port in Host", text: "GET / HTTP/1.1\r\nHost: h:http\r\n\r\n" },
  { name: "unclosed IPv6 Host", text: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n" },
  { name: "a TLS ClientHello (incomplete)", text: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" },
];

Deno.test("parseRequestHead() rejects malformed and smuggling-prone requests", async (t) => {
  ok(MALFORMED.length >= 30);
  for (const c of MALFORMED) {
    await t.step(c.name, () => {
      throws(() => parseRequestHead(latin1(c.text)), RequestParseError);
    });
  }
});

Deno.test("RequestParseError carries status 400", () => {
  try {
    parseRequestHead(latin1("GET / HTTP/9.9\r\n\r\n"));
  } catch (error) {
    ok(error instanceof RequestParseError);
    equal(error.status, 400);
    ok(/^Cannot parse request: /.test(error.message));
  }
});
