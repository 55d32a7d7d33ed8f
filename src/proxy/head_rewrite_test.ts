import { equal, ok } from "node:assert/strict";
import {
  type ForwardHeadOptions,
  forwardRequestHead,
  newForwardedLinesCache,
  rewriteResponseHead,
} from "./head_rewrite.ts";
import { parseRequestHead } from "./http1_request.ts";

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function text(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

const OPTIONS: ForwardHeadOptions = {
  clientIp: "203.0.113.7",
  proto: "http",
  trustForwardedFor: true,
  isUpgrade: false,
  dropExpect: false,
  defaultHost: "127.0.0.1:9",
};

function forward(request: string, options: Partial<ForwardHeadOptions> = {}): string {
  const src = latin1(request);
  const head = parseRequestHead(src);
  ok(head !== null);
  return text(forwardRequestHead(src, head, { ...OPTIONS, ...options }, new Uint8Array(16)));
}

Deno.test("forwardRequestHead() keeps end-to-end lines byte for byte and adds X-Forwarded-*", () => {
  equal(
    forward(
      "GET /p?q HTTP/1.1\r\nHost: Alice.Notes.localhost\r\nAuthorization: Bearer X\r\n" +
        "Cookie: a=1;  b=2\r\nX-Weird-Case: \xe9\r\n\r\n",
    ),
    "GET /p?q HTTP/1.1\r\nHost: Alice.Notes.localhost\r\nAuthorization: Bearer X\r\n" +
      "Cookie: a=1;  b=2\r\nX-Weird-Case: \xe9\r\nx-forwarded-for: 203.0.113.7\r\n" +
      "x-forwarded-proto: http\r\nx-forwarded-host: Alice.Notes.localhost\r\n\r\n",
  );
});

Deno.test("forwardRequestHead() drops hop-by-hop fields and those named in Connection", () => {
  const out = forward(
    "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Trace, host\r\nKeep-Alive: 5\r\n" +
      "X-Trace: 1\r\nTE: trailers\r\nProxy-Authorization: Basic x\r\nUpgrade: h2c\r\n" +
      "Proxy-Connection: keep-alive\r\nTrailer: X\r\nAccept: */*\r\n\r\n",
  );
  equal(
    out,
    "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nx-forwarded-for: 203.0.113.7\r\n" +
      "x-forwarded-proto: http\r\nx-forwarded-host: h\r\n\r\n",
  );
});

Deno.test("forwardRequestHead() re-states the framing and appends to a trusted X-Forwarded-For", () => {
  equal(
    forward(
      "POST / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nTransfer-Encoding: chunked\r\n" +
        "X-Forwarded-Proto: gopher\r\nX-Forwarded-Host: evil\r\n\r\n",
    ),
    "POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: chunked\r\n" +
      "x-forwarded-for: 10.0.0.1, 203.0.113.7\r\nx-forwarded-proto: http\r\n" +
      "x-forwarded-host: h\r\n\r\n",
  );
  equal(
    forward(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
      {
        trustForwardedFor: false,
      },
    ),
    "POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\nx-forwarded-for: 203.0.113.7\r\n" +
      "x-forwarded-proto: http\r\nx-forwarded-host: h\r\n\r\n",
  );
});

Deno.test("forwardRequestHead() rebuilds the request line for absolute-form and HTTP/1.0", () => {
  equal(
    forward("GET http://a.b.localhost:8080/x HTTP/1.1\r\nHost: other\r\n\r\n"),
    "GET /x HTTP/1.1\r\nhost: a.b.localhost:8080\r\nx-forwarded-for: 203.0.113.7\r\n" +
      "x-forwarded-proto: http\r\nx-forwarded-host: a.b.localhost:8080\r\n\r\n",
  );
  equal(
    forward("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    "GET /old HTTP/1.1\r\nhost: 127.0.0.1:9\r\nx-forwarded-for: 203.0.113.7\r\n" +
      "x-forwarded-proto: http\r\nx-forwarded-host: \r\n\r\n",
  );
});

Deno.test("forwardRequestHead() keeps the upgrade of an upgrade request and drops handled Expect", () => {
  equal(
    forward(
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Key: k\r\n\r\n",
      { isUpgrade: true },
    ),
    "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nconnection: upgrade\r\n" +
      "upgrade: websocket\r\nx-forwarded-for: 203.0.113.7\r\nx-forwarded-proto: http\r\n" +
      "x-forwarded-host: h\r\n\r\n",
  );
  ok(
    !forward("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", {
      dropExpect: true,
    }).toLowerCase().includes("expect"),
  );
});

Deno.test("forwardRequestHead() reuses the cached X-Forwarded-* lines while the Host is the same", () => {
  const cache = newForwardedLinesCache();
  const first = forward("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", { cache });
  const bytes = cache.bytes;
  const second = forward("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n", { cache });
  equal(cache.bytes, bytes);
  equal(second.replace("/2", "/1"), first);
  const third = forward("GET /3 HTTP/1.1\r\nHost: b\r\n\r\n", { cache });
  ok(third.includes("x-forwarded-host: b\r\n"));
});

Deno.test("rewriteResponseHead() drops hop-by-hop lines, keeps the rest and adds lines", () => {
  const src = latin1(
    "HTTP/1.1 200 OK\r\nConnection: close, X-Internal\r\nX-Internal: 1\r\nKeep-Alive: 5\r\n" +
      "Set-Cookie: a=1\r\nTransfer-Encoding: chunked\r\n\r\nbody",
  );
  equal(
    text(rewriteResponseHead(src, src.length - 4, {
      dropHopByHop: true,
      dropTransferEncoding: false,
      addLines: "set-cookie: tenement_sticky_x=v2\r\n",
    })),
    "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nTransfer-Encoding: chunked\r\n" +
      "set-cookie: tenement_sticky_x=v2\r\n\r\n",
  );
  const old = latin1("HTTP/1.0 200 OK\nContent-Type: x\nTransfer-Encoding: chunked\n\n");
  equal(
    text(rewriteResponseHead(old, old.length, {
      dropHopByHop: true,
      dropTransferEncoding: true,
      addLines: "connection: close\r\n",
    })),
    "HTTP/1.1 200 OK\r\nContent-Type: x\r\nconnection: close\r\n\r\n",
  );
});
