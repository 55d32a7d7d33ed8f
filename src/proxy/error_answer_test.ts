import { deepEqual, equal, ok } from "node:assert/strict";
import { type ErrorAnswer, type ErrorAnswerState, planErrorAnswer } from "./error_answer.ts";
import { plainPage } from "./error_responses.ts";
import { parseRequestHead, type RequestHead } from "./http1_request.ts";

function request(text: string): RequestHead {
  const head = parseRequestHead(new TextEncoder().encode(text));
  ok(head !== null);
  return head;
}

const page = plainPage(502, "Bad gateway");
const post = request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n");
const chunked = request("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
const get = request("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
const open: ErrorAnswerState = { body: "consumed", bufferedBytes: 0, isShuttingDown: false };

/** The answer without its bytes, plus its Connection field ("" when it has none). */
function shape(answer: ErrorAnswer): Omit<ErrorAnswer, "bytes"> & { connection: string } {
  const text = new TextDecoder().decode(answer.bytes);
  const connection = /\r\nconnection: ([^\r]*)\r\n/.exec(text)?.[1] ?? "";
  const { bytes: _, ...rest } = answer;
  return { ...rest, connection };
}

Deno.test("planErrorAnswer() skips a buffered body, else closes after lingering", async (t) => {
  await t.step("unread body all buffered: skipped, connection kept", () => {
    const answer = planErrorAnswer(post, page, { ...open, body: "unread", bufferedBytes: 10 });
    deepEqual(shape(answer), {
      skipBodyBytes: 10,
      needsLinger: false,
      canKeep: true,
      connection: "",
    });
  });
  await t.step("unread body partly buffered: linger, then close", () => {
    const answer = planErrorAnswer(post, page, { ...open, body: "unread", bufferedBytes: 9 });
    deepEqual(shape(answer), {
      skipBodyBytes: null,
      needsLinger: true,
      canKeep: false,
      connection: "close",
    });
  });
  await t.step("unread chunked body: linger, then close", () => {
    const answer = planErrorAnswer(chunked, page, { ...open, body: "unread", bufferedBytes: 99 });
    deepEqual(shape(answer), {
      skipBodyBytes: null,
      needsLinger: true,
      canKeep: false,
      connection: "close",
    });
  });
  await t.step("body still being sent or broken: close without lingering here", () => {
    const answer = planErrorAnswer(post, page, { ...open, body: "unfinished" });
    deepEqual(shape(answer), {
      skipBodyBytes: null,
      needsLinger: false,
      canKeep: false,
      connection: "close",
    });
  });
  await t.step("no body: kept", () => {
    deepEqual(shape(planErrorAnswer(get, page, open)), {
      skipBodyBytes: null,
      needsLinger: false,
      canKeep: true,
      connection: "",
    });
  });
});

Deno.test("planErrorAnswer() frames the answer for the client and the front", async (t) => {
  await t.step("shutting down: close", () => {
    const answer = planErrorAnswer(get, page, { ...open, isShuttingDown: true });
    equal(answer.canKeep, false);
    equal(shape(answer).connection, "close");
  });
  await t.step("the client asked to close: close", () => {
    const closing = request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    equal(shape(planErrorAnswer(closing, page, open)).connection, "close");
  });
  await t.step("HTTP/1.0 keep-alive client: told so", () => {
    const http10 = request("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
    const answer = planErrorAnswer(http10, page, open);
    equal(answer.canKeep, true);
    equal(shape(answer).connection, "keep-alive");
  });
  await t.step("HEAD: the head only", () => {
    const head = request("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = new TextDecoder().decode(planErrorAnswer(head, page, open).bytes);
    ok(text.endsWith("\r\n\r\n"));
    ok(text.includes("content-length: 12\r\n"));
  });
});
