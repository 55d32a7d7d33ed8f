/**
 * Fuzz tests for the request parser: ~20k random mutations (seeded, so a failure reproduces) of
 * valid requests and chunked bodies. Each input must either parse into a self-consistent head,
 * be incomplete, or fail with `RequestParseError` — never another error, never a hang — and the
 * head the front would forward must parse back to the same request.
 * @module
 */
import { deepEqual, equal, fail, ok } from "node:assert/strict";
import { forwardRequestHead } from "./head_rewrite.ts";
import { HOP_BY_HOP_HEADERS } from "./hop_by_hop.ts";
import { ChunkedDecoder } from "./chunked.ts";
import {
  MAX_REQUEST_HEADERS,
  parseRequestHead,
  type RequestHead,
  RequestParseError,
} from "./http1_request.ts";

/** mulberry32: a tiny seeded PRNG, so every run mutates the same way. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

const SEEDS: readonly string[] = [
  "GET / HTTP/1.1\r\nHost: alice.notes.localhost\r\n\r\n",
  "GET /a/b?c=d&e=f HTTP/1.1\r\nHost: alice.notes.localhost:8080\r\nUser-Agent: fuzz/1.0\r\n" +
  "Accept: text/html, */*;q=0.8\r\nCookie: a=1; tenement_sticky_notes=v2\r\n" +
  "Connection: keep-alive\r\n\r\n",
  "POST /submit HTTP/1.1\r\nHost: notes.localhost\r\nContent-Type: text/plain\r\n" +
  "Content-Length: 11\r\n\r\nhello world",
  "PUT /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" +
  "5\r\nhello\r\n0\r\n\r\n",
  "GET /ws HTTP/1.1\r\nHost: a.b.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
  "GET http://alice.notes.localhost/x HTTP/1.1\r\nHost: alice.notes.localhost\r\n" +
  "Connection: close, x-trace\r\nX-Trace: 1\r\nTE: trailers\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
];

const INSERTS = [13, 10, 0, 32, 9, 58, 44, 0x7f, 0x80, 0xff, 0x2d, 0x30];

/** One random edit: flip, insert CR/LF/NUL/SP/…, delete, duplicate, truncate, swap. */
function mutate(input: Uint8Array, random: () => number): Uint8Array {
  const bytes = [...input];
  const at = Math.floor(random() * (bytes.length + 1));
  switch (Math.floor(random() * 8)) {
    case 0: // Byte flip.
      if (bytes.length > 0) bytes[at % bytes.length] = Math.floor(random() * 256);
      break;
    case 1: // Insert an interesting byte.
      bytes.splice(at, 0, INSERTS[Math.floor(random() * INSERTS.length)]!);
      break;
    case 2: // Delete a byte.
      bytes.splice(at, 1);
      break;
    case 3: { // Duplicate a slice (duplicates header lines, CRLFs, digits).
      const length = 1 + Math.floor(random() * 24);
      bytes.splice(at, 0, ...bytes.slice(at, at + length));
      break;
    }
    case 4: // Truncate.
      bytes.length = at;
      break;
    case 5: { // Replace a CRLF with a bare LF or a bare CR.
      const crlf = bytes.findIndex((b, i) => i >= at && b === 13 && bytes[i + 1] === 10);
      if (crlf !== -1) bytes.splice(crlf, 2, random() < 0.5 ? 10 : 13);
      break;
    }
    case 6: { // Swap two lines.
      const text = String.fromCharCode(...bytes);
      const lines = text.split("\r\n");
      const i = Math.floor(random() * lines.length);
      const j = Math.floor(random() * lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return latin1(lines.join("\r\n"));
    }
    default: { // Flip the case of a letter (names are case-insensitive, versions are not).
      const i = at % Math.max(1, bytes.length);
      const b = bytes[i];
      if (b !== undefined && ((b >= 65 && b <= 90) || (b >= 97 && b <= 122))) bytes[i] = b ^ 0x20;
    }
  }
  return Uint8Array.from(bytes);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Everything an accepted head promises, checked against the raw bytes. */
function checkHead(bytes: Uint8Array, head: RequestHead): void {
  ok(head.headLength <= bytes.length);
  const raw = String.fromCharCode(...bytes.subarray(0, head.headLength));
  ok(raw.endsWith("\r\n\r\n"), "head ends with CRLFCRLF");
  ok(!/[^\r]\n|\r[^\n]/.test(raw.slice(head.requestLineStart)), "no bare CR or LF");
  ok(!/\r\n[ \t]/.test(raw.slice(head.requestLineStart, head.headLength - 2)), "no obs-fold");
  ok(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(head.method));
  ok(head.target === "*" ? head.method === "OPTIONS" : head.target.startsWith("/"));
  ok(/^[\x21-\x7e]+$/.test(head.target) && !head.target.includes("#"));
  ok(head.headers.length <= MAX_REQUEST_HEADERS);
  let hosts = 0;
  const lengths: string[] = [];
  const codings: string[] = [];
  for (const field of head.headers) {
    ok(TOKEN.test(field.name), `name ${JSON.stringify(field.name)}`);
    // deno-lint-ignore no-control-regex -- control characters are what must not be there
    ok(!/[\x00-\x08\x0a-\x1f\x7f]/.test(field.value), "no control characters in values");
    ok(!/^[ \t]|[ \t]$/.test(field.value), "values are trimmed");
    if (field.name === "host") hosts++;
    if (field.name === "content-length") lengths.push(field.value);
    if (field.name === "transfer-encoding") codings.push(field.value);
  }
  ok(hosts <= 1);
  if (head.minorVersion === 1) equal(hosts, 1);
  if (codings.length > 0) {
    deepEqual(head.framing, { kind: "chunked" });
    equal(lengths.length, 0);
    equal(codings.length, 1);
    equal(codings[0]!.toLowerCase(), "chunked");
    equal(head.minorVersion, 1);
  } else if (lengths.length > 0) {
    equal(lengths.length, 1);
    ok(/^[0-9]{1,15}$/.test(lengths[0]!));
    deepEqual(head.framing, { kind: "length", length: Number(lengths[0]) });
  } else {
    deepEqual(head.framing, { kind: "none" });
  }
  const isClose = head.connectionOptions.includes("close");
  equal(
    head.isKeepAlive,
    head.minorVersion === 1 ? !isClose : !isClose && head.connectionOptions.includes("keep-alive"),
  );
}

/** The head the front would send upstream parses back to the same request, cleaned. */
function checkForwarded(bytes: Uint8Array, head: RequestHead): void {
  const out = forwardRequestHead(bytes, head, {
    clientIp: "192.0.2.1",
    proto: "http",
    trustForwardedFor: false,
    isUpgrade: head.upgrade !== null,
    dropExpect: head.expectsContinue,
    defaultHost: "127.0.0.1:1",
  }, new Uint8Array(64));
  const again = parseRequestHead(out);
  ok(again !== null, "the forwarded head is complete");
  equal(again.headLength, out.length);
  equal(again.method, head.method);
  equal(again.target, head.target);
  equal(again.minorVersion, 1);
  deepEqual(again.framing, head.framing);
  equal(again.host, head.host ?? "127.0.0.1:1");
  equal(again.headers.filter((f) => f.name === "x-forwarded-for").length, 1);
  for (const field of again.headers) {
    if (head.upgrade !== null && (field.name === "connection" || field.name === "upgrade")) {
      continue;
    }
    if (field.name === "transfer-encoding") continue;
    ok(!HOP_BY_HOP_HEADERS.has(field.name), `hop-by-hop ${field.name} was forwarded`);
  }
}

Deno.test("parseRequestHead() fuzz: 20k mutations either parse consistently or are a 400", () => {
  const random = prng(0x7e4e3e47);
  const started = performance.now();
  let accepted = 0;
  let rejected = 0;
  let incomplete = 0;
  for (let i = 0; i < 20_000; i++) {
    let bytes = latin1(SEEDS[i % SEEDS.length]!);
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits; e++) bytes = mutate(bytes, random);
    let head: RequestHead | null;
    try {
      head = parseRequestHead(bytes);
    } catch (error) {
      if (!(error instanceof RequestParseError)) {
        fail(`input ${JSON.stringify(String.fromCharCode(...bytes))} threw ${error}`);
      }
      rejected++;
      continue;
    }
    // Split delivery must agree with whole delivery.
    const cut = Math.floor(random() * bytes.length);
    let split: RequestHead | null = null;
    let isSplitRejected = false;
    try {
      split = parseRequestHead(bytes.subarray(0, cut)) ??
        parseRequestHead(bytes, { searchFrom: cut });
    } catch (error) {
      ok(error instanceof RequestParseError);
      isSplitRejected = true;
    }
    // What the whole input allows, every prefix allows too: no early rejection of good input.
    ok(!isSplitRejected, "a prefix was rejected although the whole input was not");
    if (head === null) {
      incomplete++;
      equal(split, null);
      continue;
    }
    deepEqual(split, head);
    checkHead(bytes, head);
    checkForwarded(bytes, head);
    accepted++;
  }
  ok(performance.now() - started < 20_000, "the fuzz run terminates quickly");
  ok(
    accepted > 1_000 && rejected > 1_000 && incomplete > 100,
    `${accepted}/${rejected}/${incomplete}`,
  );
});

Deno.test("ChunkedDecoder (strict) fuzz: mutations decode consistently in any split, or are a 400", () => {
  const random = prng(0x5eed);
  const body = latin1(
    "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\nGET /",
  );
  for (let i = 0; i < 5_000; i++) {
    let bytes = body;
    const edits = 1 + Math.floor(random() * 2);
    for (let e = 0; e < edits; e++) bytes = mutate(bytes, random);
    const whole = feedAll(bytes, [bytes.length]);
    const cuts = [Math.floor(random() * bytes.length), bytes.length];
    const split = feedAll(bytes, cuts);
    if (whole === "rejected") {
      // Split feeding may stop early at the same error, or at the end of the body first.
      continue;
    }
    deepEqual(split, whole);
    if (whole.isDone) ok(whole.consumed <= bytes.length);
  }
});

/** Feeds `bytes` in pieces ending at `cuts`; the decoded text, consumed count and end flag. */
function feedAll(
  bytes: Uint8Array,
  cuts: readonly number[],
): { text: string; consumed: number; isDone: boolean } | "rejected" {
  const decoder = new ChunkedDecoder("strict");
  let text = "";
  let consumed = 0;
  let from = 0;
  try {
    for (const cut of cuts) {
      if (decoder.isDone) break;
      const out = decoder.feed(bytes.subarray(from, cut));
      for (const piece of out.data) text += String.fromCharCode(...piece);
      consumed += out.consumed;
      from = cut;
    }
  } catch (error) {
    ok(error instanceof RequestParseError, `unexpected ${error}`);
    return "rejected";
  }
  return { text, consumed, isDone: decoder.isDone };
}
