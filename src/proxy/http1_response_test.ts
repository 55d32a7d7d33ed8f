import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  MAX_RESPONSE_HEAD_BYTES,
  newResponseHeadScan,
  type ResponseHeadScan,
  ResponseParseError,
  scanResponseHead,
} from "./http1_response.ts";

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function scan(text: string, method = "GET"): ResponseHeadScan | "incomplete" {
  const out = newResponseHeadScan();
  return scanResponseHead(latin1(text), method, out) ? out : "incomplete";
}

function scanComplete(text: string, method = "GET"): ResponseHeadScan {
  const out = scan(text, method);
  if (out === "incomplete") throw new Error(`expected a complete head: ${JSON.stringify(text)}`);
  return out;
}

/** A valid head, the body bytes that follow it, and what a GET request makes of it. */
interface ValidCase {
  readonly name: string;
  readonly text: string;
  readonly bodyBytes: number;
  readonly status: number;
  readonly minorVersion: 0 | 1;
  readonly framing: ResponseHeadScan["framing"];
  readonly contentLength: number;
  readonly isKeepAlive: boolean;
  readonly hasHopByHop: boolean;
}

const OK_200 = { status: 200, minorVersion: 1, isKeepAlive: true, hasHopByHop: false } as const;

const VALID: readonly ValidCase[] = [
  {
    name: "length",
    text: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    bodyBytes: 5,
    ...OK_200,
    framing: "length",
    contentLength: 5,
  },
  {
    name: "chunked",
    text: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    bodyBytes: 15,
    ...OK_200,
    framing: "chunked",
    contentLength: 0,
  },
  {
    name: "chunked, any case",
    text: "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    framing: "chunked",
    contentLength: 0,
  },
  {
    name: "until close",
    text: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody",
    bodyBytes: 4,
    ...OK_200,
    minorVersion: 0,
    isKeepAlive: false,
    framing: "close",
    contentLength: 0,
  },
  {
    name: "204",
    text: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    status: 204,
    framing: "none",
    contentLength: 0,
  },
  {
    name: "304",
    text: "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    status: 304,
    framing: "none",
    contentLength: 0,
  },
  {
    name: "1xx",
    text: "HTTP/1.1 100 Continue\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    status: 100,
    framing: "none",
    contentLength: 0,
  },
  {
    name: "101",
    text: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    status: 101,
    hasHopByHop: true,
    framing: "none",
    contentLength: 0,
  },
  {
    name: "no reason",
    text: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    framing: "length",
    contentLength: 0,
  },
  {
    name: "empty reason after the space",
    text: "HTTP/1.1 500 \r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    status: 500,
    framing: "close",
    contentLength: 0,
  },
  {
    name: "bare LF",
    text: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
    bodyBytes: 2,
    ...OK_200,
    framing: "length",
    contentLength: 2,
  },
  {
    name: "close",
    text: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    isKeepAlive: false,
    hasHopByHop: true,
    framing: "length",
    contentLength: 0,
  },
  {
    name: "1.0 keep-alive",
    text: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    minorVersion: 0,
    hasHopByHop: true,
    framing: "length",
    contentLength: 0,
  },
  {
    name: "hop-by-hop",
    text: "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    hasHopByHop: true,
    framing: "length",
    contentLength: 0,
  },
  {
    name: "proxy fields",
    text: "HTTP/1.1 407 X\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    status: 407,
    hasHopByHop: true,
    framing: "length",
    contentLength: 0,
  },
  {
    name: "obs-text",
    text: "HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n",
    bodyBytes: 0,
    ...OK_200,
    framing: "length",
    contentLength: 0,
  },
  {
    name: "trimmed values, an empty value, duplicate fields",
    text: "HTTP/1.1 200 OK\r\nContent-Length:  3 \r\nX-Empty:\r\nSet-Cookie: a=1\r\n" +
      "Set-Cookie: b=2\r\n\r\nabc",
    bodyBytes: 3,
    ...OK_200,
    framing: "length",
    contentLength: 3,
  },
];

Deno.test("scanResponseHead() reads status, framing and connection handling", async (t) => {
  for (const c of VALID) {
    await t.step(c.name, () => {
      const { name: _, text, bodyBytes, ...want } = c;
      const get = scanComplete(text);
      deepEqual({ ...get }, { ...want, headLength: text.length - bodyBytes });
      // HEAD: the same head, never a body.
      const head = scanComplete(text, "HEAD");
      deepEqual({ ...head }, {
        ...want,
        headLength: text.length - bodyBytes,
        framing: "none",
        contentLength: 0,
      });
    });
  }
});

Deno.test("scanResponseHead() asks for more bytes on every proper prefix", () => {
  for (
    const text of ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 200 OK\nA: b\n\n"]
  ) {
    for (let i = 0; i < text.length; i++) {
      equal(scan(text.slice(0, i)), "incomplete", `prefix of ${i} bytes`);
    }
    ok(scan(text) !== "incomplete");
  }
});

Deno.test("scanResponseHead() applies RFC 9112 §6.3 to the status and framing fields", async (t) => {
  const cases: [string, string, number, string, ResponseHeadScan["framing"], number][] = [
    ["HEAD has no body", "HEAD", 200, "Content-Length: 10", "none", 0],
    ["1xx has no body", "GET", 103, "", "none", 0],
    ["204 has no body", "GET", 204, "Content-Length: 10", "none", 0],
    ["304 has no body", "GET", 304, "Content-Length: 10", "none", 0],
    ["205 may state a length", "GET", 205, "Content-Length: 0", "length", 0],
    ["chunked", "GET", 200, "Transfer-Encoding: Chunked", "chunked", 0],
    ["content-length", "POST", 201, "Content-Length: 42", "length", 42],
    ["zero length", "GET", 200, "Content-Length: 0", "length", 0],
    ["a large length", "GET", 200, "Content-Length: 1048576", "length", 1048576],
    ["neither: until close", "GET", 200, "", "close", 0],
  ];
  for (const [name, method, status, field, framing, contentLength] of cases) {
    await t.step(name, () => {
      const lines = field === "" ? "" : `${field}\r\n`;
      const out = scanComplete(`HTTP/1.1 ${status} X\r\n${lines}\r\n`, method);
      deepEqual([out.framing, out.contentLength], [framing, contentLength]);
    });
  }
});

Deno.test("scanResponseHead() applies the HTTP/1.0 and HTTP/1.1 keep-alive defaults", async (t) => {
  const cases: [string, 0 | 1, string, boolean][] = [
    ["1.1 default", 1, "", true],
    ["1.1 close", 1, "Connection: Close\r\n", false],
    ["1.1 close among others", 1, "Connection: x-a, close\r\n", false],
    ["1.0 default", 0, "", false],
    ["1.0 keep-alive", 0, "Connection: Keep-Alive\r\n", true],
    ["1.0 keep-alive and close", 0, "Connection: keep-alive\r\nConnection: close\r\n", false],
  ];
  for (const [name, minor, lines, isKeepAlive] of cases) {
    await t.step(name, () => {
      const out = scanComplete(`HTTP/1.${minor} 200 OK\r\n${lines}Content-Length: 0\r\n\r\n`);
      equal(out.isKeepAlive, isKeepAlive);
    });
  }
});

Deno.test("scanResponseHead() flags hop-by-hop fields, but not Transfer-Encoding", async (t) => {
  const cases: [string, boolean][] = [
    ["Transfer-Encoding: chunked\r\nDate: x", false],
    ["Keep-Alive: timeout=5\r\nContent-Length: 0", true],
    ["Upgrade: websocket\r\nContent-Length: 0", true],
    ["TE: trailers\r\nContent-Length: 0", true],
    ["Trailer: X-Sum\r\nContent-Length: 0", true],
    ["Proxy-Connection: keep-alive\r\nContent-Length: 0", true],
  ];
  for (const [lines, hasHopByHop] of cases) {
    await t.step(lines.slice(0, lines.indexOf(":")), () => {
      equal(scanComplete(`HTTP/1.1 200 OK\r\n${lines}\r\n\r\n`).hasHopByHop, hasHopByHop);
    });
  }
});

const INVALID: readonly [string, string][] = [
  ["not HTTP", "HTTX/1.1 200 OK\r\n\r\n"],
  ["not HTTP at all", "garbage\r\n\r\n"],
  ["not HTTP, detected before the head ends", "SSH-2.0"],
  ["leading blank line", "\r\nHTTP/1.1 200 OK\r\n\r\n"],
  ["HTTP/2", "HTTP/2.0 200 OK\r\n\r\n"],
  ["HTTP/2 without a minor version", "HTTP/2 200 OK\r\n\r\n"],
  ["two-digit status", "HTTP/1.1 20 OK\r\n\r\n"],
  ["status with letters", "HTTP/1.1 2x0 OK\r\n\r\n"],
  ["no space after the version", "HTTP/1.1200 OK\r\n\r\n"],
  ["status without space", "HTTP/1.1 200OK\r\n\r\n"],
  ["control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"],
  ["obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"],
  ["space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n"],
  ["no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"],
  ["empty field name", "HTTP/1.1 200 OK\r\n: v\r\n\r\n"],
  ["NUL in value", "HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n"],
  ["bare CR inside a value", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n"],
  ["duplicate Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"],
  [
    "duplicate Content-Length, other value",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
  ],
  ["list in Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"],
  ["negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
  ["odd length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n"],
  ["hex length", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"],
  ["exponent length", "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n"],
  ["empty length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"],
  ["huge length", "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n"],
  ["both framings", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"],
  ["gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"],
  [
    "chunked twice",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
  ],
  ["identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n"],
  ["oversized", `HTTP/1.1 200 OK\r\nX: ${"a".repeat(MAX_RESPONSE_HEAD_BYTES)}`],
];

Deno.test("scanResponseHead() rejects malformed heads and ambiguous framing", async (t) => {
  for (const [name, text] of INVALID) {
    await t.step(name, () => {
      throws(() => scan(text), ResponseParseError);
    });
  }
});

Deno.test("scanResponseHead() rejects heads over 64 KiB, complete or not", async (t) => {
  const filler = `X-Filler: ${"a".repeat(1000)}\r\n`.repeat(
    Math.ceil(MAX_RESPONSE_HEAD_BYTES / 1000),
  );
  await t.step("incomplete", () => {
    throws(() => scan(`HTTP/1.1 200 OK\r\n${filler}`), /larger than 65536/);
  });
  await t.step("complete", () => {
    throws(() => scan(`HTTP/1.1 200 OK\r\n${filler}\r\n`), /larger than 65536/);
  });
  await t.step("just under the limit is fine", () => {
    const line = "HTTP/1.1 200 OK\r\n";
    const pad = MAX_RESPONSE_HEAD_BYTES - line.length - "X: \r\n\r\n".length;
    equal(scanComplete(`${line}X: ${"a".repeat(pad)}\r\n\r\n`).headLength, MAX_RESPONSE_HEAD_BYTES);
  });
});

Deno.test("scanResponseHead() fuzz: 10k mutations scan consistently or are rejected", () => {
  let seed = 0x1234567;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 4294967296;
  };
  const inserts = [13, 10, 0, 32, 9, 58, 44, 48, 0xe9];
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 10_000; i++) {
    const bytes = [...latin1(VALID[i % VALID.length]!.text)];
    const at = Math.floor(random() * bytes.length);
    const kind = Math.floor(random() * 3);
    if (kind === 0) bytes.splice(at, 1);
    else if (kind === 1) bytes.splice(at, 0, inserts[Math.floor(random() * inserts.length)]!);
    else bytes.splice(at, 0, ...bytes.slice(at, at + 1 + Math.floor(random() * 20)));
    const text = String.fromCharCode(...bytes);
    let out: ResponseHeadScan | "incomplete";
    try {
      out = scan(text);
    } catch (error) {
      ok(error instanceof ResponseParseError, `unexpected ${error}`);
      rejected++;
      continue;
    }
    if (out === "incomplete") continue;
    accepted++;
    const where = JSON.stringify(text);
    // The head ends with an empty line, and the bytes after it play no part.
    ok(out.headLength <= text.length, where);
    ok(/\n\r?\n$/.test(text.slice(0, out.headLength)), where);
    deepEqual({ ...scanComplete(text.slice(0, out.headLength)) }, { ...out }, where);
    // Any shorter prefix of the head is incomplete (a head is judged once it is all there).
    equal(scan(text.slice(0, Math.floor(random() * out.headLength))), "incomplete", where);
    // The framing facts fit together.
    ok(out.status >= 100 && out.status <= 999, where);
    if (out.status < 200 || out.status === 204 || out.status === 304) {
      equal(out.framing, "none", where);
    }
    if (out.framing !== "length") equal(out.contentLength, 0, where);
    if (out.minorVersion === 0 && !/keep-alive/i.test(text)) equal(out.isKeepAlive, false, where);
  }
  ok(accepted > 1_000 && rejected > 1_000, `${accepted}/${rejected}`);
});
