import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  type BodyFraming,
  ChunkedDecoder,
  HttpParseError,
  isKeepAlive,
  MAX_HEAD_BYTES,
  parseContentLength,
  parseResponseHead,
  responseBodyFraming,
} from "./http1.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

Deno.test("parseResponseHead() parses valid heads", async (t) => {
  const cases: {
    name: string;
    input: Uint8Array;
    status: number;
    statusText: string;
    minorVersion: 0 | 1;
    headers: [string, string][];
  }[] = [
    {
      name: "CRLF lines, lower-cased names, trimmed values",
      input: bytes("HTTP/1.1 200 OK\r\nContent-Type:  text/plain \r\nX-Empty:\r\n\r\n"),
      status: 200,
      statusText: "OK",
      minorVersion: 1,
      headers: [["content-type", "text/plain"], ["x-empty", ""]],
    },
    {
      name: "bare LF lines",
      input: bytes("HTTP/1.0 404 Not Found\nA: b\n\n"),
      status: 404,
      statusText: "Not Found",
      minorVersion: 0,
      headers: [["a", "b"]],
    },
    {
      name: "no reason phrase",
      input: bytes("HTTP/1.1 204\r\n\r\n"),
      status: 204,
      statusText: "",
      minorVersion: 1,
      headers: [],
    },
    {
      name: "empty reason phrase after the space",
      input: bytes("HTTP/1.1 500 \r\n\r\n"),
      status: 500,
      statusText: "",
      minorVersion: 1,
      headers: [],
    },
    {
      name: "duplicate fields stay separate and in order",
      input: bytes("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"),
      status: 200,
      statusText: "OK",
      minorVersion: 1,
      headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]],
    },
    {
      name: "obs-text bytes survive as Latin-1 code points",
      input: latin1("HTTP/1.1 200 OK\r\nX-Name: caf\u00e9\r\n\r\n"),
      status: 200,
      statusText: "OK",
      minorVersion: 1,
      headers: [["x-name", "caf\u00e9"]],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const head = parseResponseHead(c.input);
      if (head === "incomplete") throw new Error("expected a complete head");
      deepEqual(
        { ...head },
        {
          status: c.status,
          statusText: c.statusText,
          minorVersion: c.minorVersion,
          headers: c.headers,
          headLength: c.input.length,
        },
      );
    });
  }
});

Deno.test("parseResponseHead() reports where the body starts", () => {
  const input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  const head = parseResponseHead(input);
  if (head === "incomplete") throw new Error("expected a complete head");
  equal(decoder.decode(input.subarray(head.headLength)), "hello");
});

Deno.test("parseResponseHead() asks for more bytes on every proper prefix", () => {
  const full = bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  for (let i = 0; i < full.length; i++) {
    equal(parseResponseHead(full.subarray(0, i)), "incomplete", `prefix of ${i} bytes`);
  }
  ok(parseResponseHead(full) !== "incomplete");
});

Deno.test("parseResponseHead() rejects malformed heads", async (t) => {
  const cases: [string, Uint8Array][] = [
    ["not HTTP at all", bytes("garbage\r\n\r\n")],
    ["not HTTP, detected before the head ends", bytes("SSH-2.0")],
    ["HTTP/2 status line", bytes("HTTP/2 200 OK\r\n\r\n")],
    ["two-digit status", bytes("HTTP/1.1 20 OK\r\n\r\n")],
    ["status with letters", bytes("HTTP/1.1 2x0 OK\r\n\r\n")],
    ["no space after version", bytes("HTTP/1.1200 OK\r\n\r\n")],
    ["control character in reason", bytes("HTTP/1.1 200 O\x01K\r\n\r\n")],
    ["header without colon", bytes("HTTP/1.1 200 OK\r\nbroken\r\n\r\n")],
    ["space before colon", bytes("HTTP/1.1 200 OK\r\nName : v\r\n\r\n")],
    ["empty header name", bytes("HTTP/1.1 200 OK\r\n: v\r\n\r\n")],
    ["obs-fold continuation line", bytes("HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n\r\n")],
    ["NUL in a value", bytes("HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n")],
    ["bare CR inside a value", bytes("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n")],
    ["leading blank line", bytes("\r\nHTTP/1.1 200 OK\r\n\r\n")],
  ];
  for (const [name, input] of cases) {
    await t.step(name, () => {
      throws(() => parseResponseHead(input), HttpParseError);
    });
  }
});

Deno.test("parseResponseHead() rejects heads over 64 KiB, complete or not", async (t) => {
  const filler = `X-Filler: ${"a".repeat(1000)}\r\n`.repeat(Math.ceil(MAX_HEAD_BYTES / 1000));
  await t.step("incomplete", () => {
    throws(() => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\n${filler}`)), /larger than 65536/);
  });
  await t.step("complete", () => {
    throws(() => parseResponseHead(bytes(`HTTP/1.1 200 OK\r\n${filler}\r\n`)), /larger than 65536/);
  });
  await t.step("just under the limit is fine", () => {
    const line = "HTTP/1.1 200 OK\r\n";
    const pad = MAX_HEAD_BYTES - line.length - "X: \r\n\r\n".length;
    const head = parseResponseHead(bytes(`${line}X: ${"a".repeat(pad)}\r\n\r\n`));
    equal(head === "incomplete" ? -1 : head.headLength, MAX_HEAD_BYTES);
  });
});

Deno.test("responseBodyFraming() follows RFC 9112 §6.3", async (t) => {
  const cases: [string, string, number, [string, string][], BodyFraming][] = [
    ["HEAD has no body", "HEAD", 200, [["content-length", "10"]], { kind: "none" }],
    ["1xx has no body", "GET", 103, [], { kind: "none" }],
    ["204 has no body", "GET", 204, [["content-length", "10"]], { kind: "none" }],
    ["304 has no body", "GET", 304, [["content-length", "10"]], { kind: "none" }],
    ["chunked", "GET", 200, [["transfer-encoding", "Chunked"]], { kind: "chunked" }],
    ["content-length", "POST", 201, [["content-length", "42"]], { kind: "length", length: 42 }],
    ["zero length", "GET", 200, [["content-length", "0"]], { kind: "length", length: 0 }],
    ["neither: until close", "GET", 200, [], { kind: "close" }],
  ];
  for (const [name, method, status, headers, expected] of cases) {
    await t.step(name, () => deepEqual(responseBodyFraming(method, status, headers), expected));
  }
});

Deno.test("responseBodyFraming() rejects ambiguous or invalid framing", async (t) => {
  const cases: [string, [string, string][]][] = [
    ["duplicate content-length, same value", [["content-length", "5"], ["content-length", "5"]]],
    ["duplicate content-length, other value", [["content-length", "5"], ["content-length", "6"]]],
    ["list in content-length", [["content-length", "5, 5"]]],
    ["negative length", [["content-length", "-1"]]],
    ["signed length", [["content-length", "+5"]]],
    ["hex length", [["content-length", "0x10"]]],
    ["empty length", [["content-length", ""]]],
    ["huge length", [["content-length", "9999999999999999999"]]],
    ["both framings", [["transfer-encoding", "chunked"], ["content-length", "5"]]],
    ["gzip transfer coding", [["transfer-encoding", "gzip, chunked"]]],
    ["chunked twice", [["transfer-encoding", "chunked"], ["transfer-encoding", "chunked"]]],
    ["identity", [["transfer-encoding", "identity"]]],
  ];
  for (const [name, headers] of cases) {
    await t.step(name, () => {
      throws(() => responseBodyFraming("GET", 200, headers), HttpParseError);
    });
  }
});

Deno.test("parseContentLength() accepts plain decimal digits only", () => {
  equal(parseContentLength("0"), 0);
  equal(parseContentLength("1048576"), 1048576);
  throws(() => parseContentLength("1e3"), HttpParseError);
  throws(() => parseContentLength(" 1"), HttpParseError);
});

Deno.test("isKeepAlive() applies HTTP/1.0 and HTTP/1.1 defaults and Connection options", async (t) => {
  const cases: [string, 0 | 1, [string, string][], boolean][] = [
    ["1.1 default", 1, [], true],
    ["1.1 close", 1, [["connection", "Close"]], false],
    ["1.1 close among others", 1, [["connection", "x-a, close"]], false],
    ["1.0 default", 0, [], false],
    ["1.0 keep-alive", 0, [["connection", "Keep-Alive"]], true],
    ["1.0 keep-alive and close", 0, [["connection", "keep-alive"], ["connection", "close"]], false],
  ];
  for (const [name, minorVersion, headers, expected] of cases) {
    await t.step(name, () => equal(isKeepAlive({ minorVersion, headers }), expected));
  }
});

function decodeAll(
  input: Uint8Array,
  splitEvery: number,
): { body: string; isDone: boolean; leftover: string } {
  const chunked = new ChunkedDecoder();
  let body = "";
  let isDone = false;
  let leftover = "";
  for (let i = 0; i < input.length; i += splitEvery) {
    const result = chunked.feed(input.subarray(i, i + splitEvery));
    for (const piece of result.data) body += decoder.decode(piece);
    if (result.isDone) {
      isDone = true;
      leftover = decoder.decode(result.leftover) + decoder.decode(input.subarray(i + splitEvery));
      break;
    }
  }
  return { body, isDone, leftover };
}

Deno.test("ChunkedDecoder decodes valid bodies at any split", async (t) => {
  const cases: [string, string, string, string][] = [
    ["simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", ""],
    [
      "upper and lower hex",
      "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
      "01234567890123456789",
      "",
    ],
    ["extensions", "5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", ""],
    ["trailers are skipped", "5\r\nhello\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n", "hello", ""],
    ["bare LF", "5\nhello\n0\n\n", "hello", ""],
    ["leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""],
    ["bytes after the end are leftover", "2\r\nhi\r\n0\r\n\r\nHTTP/1.1", "hi", "HTTP/1.1"],
    ["empty body", "0\r\n\r\n", "", ""],
  ];
  for (const [name, wire, body, leftover] of cases) {
    await t.step(name, () => {
      for (const split of [1, 2, 3, 7, 1024]) {
        deepEqual(
          decodeAll(bytes(wire), split),
          { body, isDone: true, leftover },
          `split ${split}`,
        );
      }
    });
  }
});

Deno.test("ChunkedDecoder is not done until the final CRLF", () => {
  const result = decodeAll(bytes("5\r\nhello\r\n0\r\n"), 1024);
  deepEqual(result, { body: "hello", isDone: false, leftover: "" });
});

Deno.test("ChunkedDecoder rejects malformed bodies", async (t) => {
  const cases: [string, string][] = [
    ["no size", "\r\nhello\r\n"],
    ["non-hex size", "g\r\nhello\r\n"],
    ["negative size", "-5\r\nhello\r\n"],
    ["garbage after size", "5x\r\nhello\r\n"],
    ["CR without LF after size", "5\rhello\r\n"],
    ["data longer than its size", "3\r\nhello\r\n"],
    ["missing CRLF after data", "5\r\nhelloX\r\n"],
    ["CR then junk after data", "5\r\nhello\rX"],
    ["size over 13 hex digits", `${"f".repeat(14)}\r\n`],
    ["extension too long", `5;${"a".repeat(5000)}\r\nhello\r\n`],
    ["trailer section too long", `0\r\n${`X-A: ${"a".repeat(1000)}\r\n`.repeat(70)}\r\n`],
    ["junk after the trailer CR", "0\r\n\rX"],
  ];
  for (const [name, wire] of cases) {
    await t.step(name, () => {
      throws(() => decodeAll(bytes(wire), 1024), HttpParseError);
    });
  }
});

Deno.test("ChunkedDecoder returns views into its input, not copies", () => {
  const input = bytes("5\r\nhello\r\n");
  const { data } = new ChunkedDecoder().feed(input);
  equal(data[0]!.buffer, input.buffer);
});
