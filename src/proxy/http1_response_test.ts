import { equal, ok, throws } from "node:assert/strict";
import {
  HttpParseError,
  isKeepAlive,
  MAX_HEAD_BYTES,
  parseResponseHead,
  responseBodyFraming,
} from "./http1.ts";
import { newResponseHeadScan, type ResponseHeadScan, scanResponseHead } from "./http1_response.ts";
import { hasHopByHopFields } from "./head_rewrite.ts";

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function scan(text: string, method = "GET"): ResponseHeadScan | "incomplete" {
  const out = newResponseHeadScan();
  return scanResponseHead(latin1(text), method, out) ? out : "incomplete";
}

/** What the field-list functions of http1.ts say about the same bytes. */
function reference(text: string, method = "GET"): ResponseHeadScan | "incomplete" {
  const head = parseResponseHead(latin1(text));
  if (head === "incomplete") return "incomplete";
  const framing = responseBodyFraming(method, head.status, head.headers);
  return {
    status: head.status,
    minorVersion: head.minorVersion,
    headLength: head.headLength,
    framing: framing.kind,
    contentLength: framing.kind === "length" ? framing.length : 0,
    isKeepAlive: isKeepAlive(head),
    hasHopByHop: hasHopByHopFields(head.headers),
  };
}

const VALID: readonly [string, string][] = [
  ["length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"],
  ["chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
  ["chunked, any case", "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n"],
  ["until close", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"],
  ["204", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"],
  ["304", "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"],
  ["1xx", "HTTP/1.1 100 Continue\r\n\r\n"],
  ["101", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"],
  ["no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"],
  ["bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"],
  ["close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"],
  ["1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"],
  ["hop-by-hop", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n"],
  ["proxy fields", "HTTP/1.1 407 X\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"],
  ["obs-text", "HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n"],
  ["incomplete", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"],
  ["incomplete status line", "HTTP/1.1 20"],
];

Deno.test("scanResponseHead() agrees with parseResponseHead() + responseBodyFraming()", async (t) => {
  for (const [name, text] of VALID) {
    for (const method of ["GET", "HEAD"]) {
      await t.step(`${name} (${method})`, () => {
        const got = scan(text, method);
        const want = reference(text, method);
        if (want === "incomplete" || got === "incomplete") return equal(got, want);
        for (const key of Object.keys(want) as (keyof ResponseHeadScan)[]) {
          equal(got[key], want[key], key);
        }
      });
    }
  }
});

const INVALID: readonly [string, string][] = [
  ["not HTTP", "HTTX/1.1 200 OK\r\n\r\n"],
  ["HTTP/2", "HTTP/2.0 200 OK\r\n\r\n"],
  ["two-digit status", "HTTP/1.1 20 OK\r\n\r\n"],
  ["status without space", "HTTP/1.1 200OK\r\n\r\n"],
  ["control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"],
  ["obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"],
  ["space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n"],
  ["no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"],
  ["NUL in value", "HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n"],
  ["duplicate Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"],
  ["both framings", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"],
  ["gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"],
  ["odd length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n"],
  ["oversized", `HTTP/1.1 200 OK\r\nX: ${"a".repeat(MAX_HEAD_BYTES)}`],
];

Deno.test("scanResponseHead() rejects what responseBodyFraming() and parseResponseHead() reject", async (t) => {
  for (const [name, text] of INVALID) {
    await t.step(name, () => {
      throws(() => reference(text), HttpParseError);
      throws(() => scan(text), HttpParseError);
    });
  }
});

Deno.test("scanResponseHead() fuzz: same verdict as the field-list parser on 10k mutations", () => {
  let seed = 0x1234567;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 4294967296;
  };
  const inserts = [13, 10, 0, 32, 9, 58, 44, 48, 0xe9];
  let agreed = 0;
  for (let i = 0; i < 10_000; i++) {
    const bytes = [...latin1(VALID[i % 14]![1])];
    const at = Math.floor(random() * bytes.length);
    const kind = Math.floor(random() * 3);
    if (kind === 0) bytes.splice(at, 1);
    else if (kind === 1) bytes.splice(at, 0, inserts[Math.floor(random() * inserts.length)]!);
    else bytes.splice(at, 0, ...bytes.slice(at, at + 1 + Math.floor(random() * 20)));
    const text = String.fromCharCode(...bytes);
    const outcome = (f: () => unknown): string => {
      try {
        return JSON.stringify(f());
      } catch (error) {
        ok(error instanceof HttpParseError, `unexpected ${error}`);
        return "rejected";
      }
    };
    const got = outcome(() => scan(text));
    const want = outcome(() => reference(text));
    // The scan checks the status line as the bytes arrive; the reference waits for the head.
    if (want === "rejected" || got === "rejected") {
      if (want === got || want === '"incomplete"' || got === '"incomplete"') continue;
    }
    equal(got, want, JSON.stringify(text));
    agreed++;
  }
  ok(agreed > 1_000);
});
