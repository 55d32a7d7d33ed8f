import { equal } from "node:assert/strict";
import { canPassThroughInline, type FailedAttempt, isRetryable } from "./exchange_rules.ts";
import { newResponseHeadScan, type ResponseHeadScan, scanResponseHead } from "./http1_response.ts";

Deno.test("isRetryable() after a failed connect waits for a restart once, for instances only", async (t) => {
  const base = {
    stage: "connect",
    isInstance: true,
    isTimedOut: false,
    hasWaitedForRestart: false,
  } as const;
  const cases: [string, FailedAttempt, boolean][] = [
    ["an instance, first refusal", base, true],
    ["an instance that was waited for already", { ...base, hasWaitedForRestart: true }, false],
    ["tenement's own hosts (no instance to restart)", { ...base, isInstance: false }, false],
    ["past the request timeout", { ...base, isTimedOut: true }, false],
  ];
  for (const [name, attempt, expected] of cases) {
    await t.step(name, () => equal(isRetryable(attempt), expected));
  }
});

Deno.test("isRetryable() after a failed send retries a replayable request on a pooled connection", async (t) => {
  const base = {
    stage: "send",
    isReusedConnection: true,
    isTimedOut: false,
    isRequestReplayable: true,
  } as const;
  const cases: [string, FailedAttempt, boolean][] = [
    ["pooled connection, whole request at hand", base, true],
    [
      "a new connection (the instance itself failed)",
      { ...base, isReusedConnection: false },
      false,
    ],
    ["a body not all at hand", { ...base, isRequestReplayable: false }, false],
    ["past the request timeout", { ...base, isTimedOut: true }, false],
  ];
  for (const [name, attempt, expected] of cases) {
    await t.step(name, () => equal(isRetryable(attempt), expected));
  }
});

Deno.test("isRetryable() after a close before the response head retries only when nothing was exchanged", async (t) => {
  const base = {
    stage: "response",
    isReusedConnection: true,
    isTimedOut: false,
    isBodySent: false,
    hasResponseBytes: false,
  } as const;
  const cases: [string, FailedAttempt, boolean][] = [
    ["pooled connection, nothing sent or seen", base, true],
    ["a new connection", { ...base, isReusedConnection: false }, false],
    ["request body bytes went out", { ...base, isBodySent: true }, false],
    ["part of a response arrived", { ...base, hasResponseBytes: true }, false],
    ["past the request timeout", { ...base, isTimedOut: true }, false],
  ];
  for (const [name, attempt, expected] of cases) {
    await t.step(name, () => equal(isRetryable(attempt), expected));
  }
});

/** A response head scanned by the real scanner, and the byte count of `text`. */
function scanned(text: string, method = "GET"): [ResponseHeadScan, number] {
  const bytes = new TextEncoder().encode(text);
  const scan = newResponseHeadScan();
  equal(scanResponseHead(bytes, method, scan), true);
  return [scan, bytes.length];
}

Deno.test("canPassThroughInline() takes only untouched heads with their whole body buffered", async (t) => {
  const http11 = { minorVersion: 1, isKeepAlive: true } as const;
  const [ok200, ok200Bytes] = scanned("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  await t.step("length framing, body buffered", () => {
    equal(canPassThroughInline(ok200, ok200Bytes, http11, false, false, undefined), true);
  });
  await t.step("no body (204)", () => {
    const [scan, bytes] = scanned("HTTP/1.1 204 No Content\r\n\r\n");
    equal(canPassThroughInline(scan, bytes, http11, false, false, undefined), true);
  });
  await t.step("body not all buffered", () => {
    equal(canPassThroughInline(ok200, ok200Bytes - 1, http11, false, false, undefined), false);
  });
  await t.step("chunked body", () => {
    const [scan, bytes] = scanned(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    equal(canPassThroughInline(scan, bytes, http11, false, false, undefined), false);
  });
  await t.step("body until close", () => {
    const [scan, bytes] = scanned("HTTP/1.1 200 OK\r\n\r\n");
    equal(scan.framing, "close");
    equal(canPassThroughInline(scan, bytes, http11, false, false, undefined), false);
  });
  await t.step("hop-by-hop field in the response", () => {
    const [scan, bytes] = scanned(
      "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
    );
    equal(scan.hasHopByHop, true);
    equal(canPassThroughInline(scan, bytes, http11, false, false, undefined), false);
  });
  await t.step("HTTP/1.0 response", () => {
    const [scan, bytes] = scanned("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    equal(canPassThroughInline(scan, bytes, http11, false, false, undefined), false);
  });
  await t.step("HTTP/1.0 client", () => {
    const http10 = { minorVersion: 0, isKeepAlive: true } as const;
    equal(canPassThroughInline(ok200, ok200Bytes, http10, false, false, undefined), false);
  });
  await t.step("client closes after this request", () => {
    const closing = { minorVersion: 1, isKeepAlive: false } as const;
    equal(canPassThroughInline(ok200, ok200Bytes, closing, false, false, undefined), false);
  });
  await t.step("the front is shutting down", () => {
    equal(canPassThroughInline(ok200, ok200Bytes, http11, true, false, undefined), false);
  });
  await t.step("a request body transfer was started", () => {
    equal(canPassThroughInline(ok200, ok200Bytes, http11, false, true, undefined), false);
  });
  await t.step("a sticky cookie to add", () => {
    equal(canPassThroughInline(ok200, ok200Bytes, http11, false, false, "ten_app=a"), false);
  });
});
