import { equal } from "node:assert/strict";
import {
  type AttemptRecovery,
  canPassThroughInline,
  type FailedAttempt,
  isSafeMethod,
  recoveryOf,
} from "./exchange_rules.ts";
import { newResponseHeadScan, type ResponseHeadScan, scanResponseHead } from "./http1_response.ts";

async function checkRecoveries(
  t: Deno.TestContext,
  cases: readonly [string, FailedAttempt, AttemptRecovery][],
): Promise<void> {
  for (const [name, attempt, expected] of cases) {
    await t.step(name, () => equal(recoveryOf(attempt), expected));
  }
}

Deno.test("recoveryOf() after a failed connect waits for a restart once, for instances only", async (t) => {
  const base = {
    stage: "connect",
    isInstance: true,
    isTimedOut: false,
    hasWaitedForRestart: false,
  } as const;
  await checkRecoveries(t, [
    ["an instance, first refusal", base, "await_restart"],
    ["an instance that was waited for already", { ...base, hasWaitedForRestart: true }, "fail"],
    ["tenement's own hosts (no instance to restart)", { ...base, isInstance: false }, "fail"],
    ["past the request timeout", { ...base, isTimedOut: true }, "fail"],
  ]);
});

Deno.test("recoveryOf() after a failed send retries a replayable request on a pooled connection", async (t) => {
  const base = {
    stage: "send",
    isReusedConnection: true,
    isTimedOut: false,
    isRequestReplayable: true,
  } as const;
  await checkRecoveries(t, [
    ["pooled connection, whole request at hand", base, "retry"],
    [
      "a new connection (the instance itself failed)",
      { ...base, isReusedConnection: false },
      "fail",
    ],
    ["a body not all at hand", { ...base, isRequestReplayable: false }, "fail"],
    ["past the request timeout", { ...base, isTimedOut: true }, "fail"],
  ]);
});

Deno.test("recoveryOf() after a close before the response head: retry a pooled connection, wait for a dying instance", async (t) => {
  const base = {
    stage: "response",
    isReusedConnection: true,
    isTimedOut: false,
    isBodySent: false,
    hasResponseBytes: false,
    isInstance: true,
    isSafeMethod: true,
    hasWaitedForRestart: false,
  } as const;
  const fresh = { ...base, isReusedConnection: false } as const;
  await checkRecoveries(t, [
    ["pooled connection, nothing sent or seen", base, "retry"],
    ["request body bytes went out", { ...base, isBodySent: true }, "fail"],
    ["part of a response arrived", { ...base, hasResponseBytes: true }, "fail"],
    ["past the request timeout", { ...base, isTimedOut: true }, "fail"],
    ["a new connection, safe request: the process is dying", fresh, "await_restart"],
    ["a new connection, unsafe request (the app may have acted)", {
      ...fresh,
      isSafeMethod: false,
    }, "fail"],
    ["a new connection, waited for a restart already", {
      ...fresh,
      hasWaitedForRestart: true,
    }, "fail"],
    ["a new connection to tenement's own hosts", { ...fresh, isInstance: false }, "fail"],
    ["a new connection, body bytes went out", { ...fresh, isBodySent: true }, "fail"],
  ]);
});

Deno.test("isSafeMethod(): GET, HEAD and OPTIONS only", () => {
  for (const method of ["GET", "HEAD", "OPTIONS"]) equal(isSafeMethod(method), true, method);
  for (const method of ["POST", "PUT", "PATCH", "DELETE", "get"]) {
    equal(isSafeMethod(method), false, method);
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
