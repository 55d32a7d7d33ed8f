import { deepEqual, equal, throws } from "node:assert/strict";
import { ChunkedDecoder, type ChunkedStrictness, encodeChunk, LAST_CHUNK } from "./chunked.ts";
import { RequestParseError } from "./http1_request.ts";
import { ResponseParseError } from "./http1_response.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of `text`, one byte per code unit (so "\x80" stays one byte). */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Decodes `text` in one feed. */
function decodeOnce(
  text: string,
  strictness: ChunkedStrictness = "strict",
): { body: string; consumed: number; isDone: boolean } {
  const out = new ChunkedDecoder(strictness).feed(latin1(text));
  return {
    body: out.data.map((piece) => decoder.decode(piece)).join(""),
    consumed: out.consumed,
    isDone: out.isDone,
  };
}

/** Decodes `text` fed `splitEvery` bytes at a time; what follows the body is `leftover`. */
function decodeSplit(
  text: string,
  splitEvery: number,
  strictness: ChunkedStrictness,
): { body: string; isDone: boolean; leftover: string } {
  const input = latin1(text);
  const chunked = new ChunkedDecoder(strictness);
  let body = "";
  let isDone = false;
  let leftover = "";
  for (let i = 0; i < input.length; i += splitEvery) {
    const piece = input.subarray(i, i + splitEvery);
    const result = chunked.feed(piece);
    for (const data of result.data) body += decoder.decode(data);
    if (result.isDone) {
      isDone = true;
      leftover = decoder.decode(piece.subarray(result.consumed)) +
        decoder.decode(input.subarray(i + splitEvery));
      break;
    }
    equal(result.consumed, piece.length, "all input is body until the body ends");
  }
  return { body, isDone, leftover };
}

// ---- strict: request bodies from clients --------------------------------------------------------

Deno.test("ChunkedDecoder (strict) decodes valid bodies and stops at their end", async (t) => {
  const cases: { name: string; text: string; body: string; consumed: number }[] = [
    { name: "one chunk", text: "5\r\nhello\r\n0\r\n\r\n", body: "hello", consumed: 15 },
    {
      name: "several chunks, upper-case hex",
      text: "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
      body: "abc0123456789",
      consumed: 28,
    },
    {
      name: "extensions are read and dropped",
      text: "3;name=value\r\nabc\r\n0;x\r\n\r\n",
      body: "abc",
      consumed: 26,
    },
    {
      name: "whitespace before an extension",
      text: "3 ;x\r\nabc\r\n0\r\n\r\n",
      body: "abc",
      consumed: 16,
    },
    {
      name: "trailers are read and dropped",
      text: "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n",
      body: "abc",
      consumed: 35,
    },
    {
      name: "the next request stays unread",
      text: "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
      body: "a",
      consumed: 11,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const out = decodeOnce(c.text);
      equal(out.body, c.body);
      equal(out.consumed, c.consumed);
      equal(out.isDone, true);
    });
  }
});

Deno.test("ChunkedDecoder (strict) gives the same body fed one byte at a time", () => {
  const bytes = latin1("4;a=b\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\nNEXT");
  const d = new ChunkedDecoder("strict");
  let body = "";
  let consumed = 0;
  for (let i = 0; i < bytes.length && !d.isDone; i++) {
    const out = d.feed(bytes.subarray(i, i + 1));
    body += out.data.map((piece) => decoder.decode(piece)).join("");
    consumed += out.consumed;
  }
  equal(body, "wikipedia");
  equal(consumed, bytes.length - 4);
});

Deno.test("ChunkedDecoder (strict) rejects malformed bodies with a 400", async (t) => {
  const cases: { name: string; text: string }[] = [
    { name: "no size", text: "\r\nabc\r\n" },
    { name: "invalid hex", text: "g\r\n" },
    { name: "negative size", text: "-5\r\n" },
    { name: "bare LF after the size", text: "3\nabc\r\n0\r\n\r\n" },
    { name: "bare CR after the size", text: "3\rabc" },
    { name: "data longer than the size", text: "3\r\nabcd\r\n0\r\n\r\n" },
    { name: "bare LF after data", text: "3\r\nabc\n0\r\n\r\n" },
    { name: "size too large", text: "fffffffffffffff\r\n" },
    { name: "garbage after the size", text: "3 x\r\nabc\r\n" },
    { name: "control character in an extension", text: "3;a\x00\r\nabc\r\n" },
    { name: "trailer without a colon", text: "0\r\nNoColon\r\n\r\n" },
    { name: "obs-fold trailer", text: "0\r\nA: b\r\n c\r\n\r\n" },
    { name: "bare LF ending the trailers", text: "0\r\n\n" },
    { name: "NUL in a trailer value", text: "0\r\nA: \x00\r\n\r\n" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      throws(() => new ChunkedDecoder("strict").feed(latin1(c.text)), RequestParseError);
    });
  }
});

Deno.test("encodeChunk() and LAST_CHUNK frame data canonically", () => {
  const out = new Uint8Array(64);
  let at = encodeChunk(encoder.encode("hello world!"), out, 0);
  out.set(LAST_CHUNK, at);
  at += LAST_CHUNK.length;
  const framed = out.subarray(0, at);
  equal(decoder.decode(framed), "c\r\nhello world!\r\n0\r\n\r\n");
  equal(decodeOnce(decoder.decode(framed)).body, "hello world!");
});

// ---- lenient: response bodies from instances ----------------------------------------------------

Deno.test("ChunkedDecoder (lenient) decodes valid bodies at any split", async (t) => {
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
          decodeSplit(wire, split, "lenient"),
          { body, isDone: true, leftover },
          `split ${split}`,
        );
      }
    });
  }
});

Deno.test("ChunkedDecoder (lenient) is not done until the final CRLF", () => {
  const result = decodeSplit("5\r\nhello\r\n0\r\n", 1024, "lenient");
  deepEqual(result, { body: "hello", isDone: false, leftover: "" });
});

Deno.test("ChunkedDecoder (lenient) rejects malformed bodies", async (t) => {
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
      throws(() => decodeSplit(wire, 1024, "lenient"), ResponseParseError);
    });
  }
});

Deno.test("ChunkedDecoder (lenient) returns views into its input, not copies", () => {
  const input = encoder.encode("5\r\nhello\r\n");
  const { data } = new ChunkedDecoder("lenient").feed(input);
  equal(data[0]!.buffer, input.buffer);
});

// ---- the two modes side by side -----------------------------------------------------------------

Deno.test("ChunkedDecoder: what only the lenient mode accepts", async (t) => {
  const cases: [string, string, string][] = [
    ["bare LF after the size", "3\nabc\r\n0\r\n\r\n", "abc"],
    ["bare LF after data", "3\r\nabc\n0\r\n\r\n", "abc"],
    ["bare LF ending the trailers", "0\r\n\n", ""],
    ["garbage after the size", "3 x\r\nabc\r\n0\r\n\r\n", "abc"],
    ["control character in an extension", "3;a\x00\r\nabc\r\n0\r\n\r\n", "abc"],
    ["trailer without a colon", "0\r\nNoColon\r\n\r\n", ""],
    ["obs-fold trailer", "0\r\nA: b\r\n c\r\n\r\n", ""],
    ["NUL in a trailer value", "0\r\nA: \x00\r\n\r\n", ""],
    ["more than 100 trailer fields", `0\r\n${"T: v\r\n".repeat(101)}\r\n`, ""],
  ];
  for (const [name, wire, body] of cases) {
    await t.step(name, () => {
      deepEqual(decodeSplit(wire, 1024, "lenient"), { body, isDone: true, leftover: "" });
      throws(() => new ChunkedDecoder("strict").feed(latin1(wire)), RequestParseError);
    });
  }
});
