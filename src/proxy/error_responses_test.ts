import { equal, ok } from "node:assert/strict";
import {
  ForbiddenError,
  InstanceDisabledError,
  NotFoundError,
  UnavailableError,
} from "../core/errors.ts";
import {
  badGatewayPage,
  gatewayTimeoutPage,
  invalidHostPage,
  resolveFailurePage,
  serializeErrorPage,
} from "./error_responses.ts";

const decoder = new TextDecoder();

Deno.test("resolveFailurePage() maps resolver errors to 404, 403 and 503", () => {
  equal(resolveFailurePage(new NotFoundError("x"), { accept: null }).status, 404);
  equal(resolveFailurePage(new ForbiddenError("x"), { accept: null }).status, 403);
  const plain = resolveFailurePage(new UnavailableError("x", 9), { accept: "*/*" });
  equal(plain.status, 503);
  equal(plain.body, "Service temporarily unavailable\n");
  equal(plain.headers.find(([n]) => n === "retry-after")?.[1], "9");
  const html = resolveFailurePage(new Error("boom: /secret/path"), { accept: "text/html" });
  equal(html.status, 503);
  equal(html.headers.find(([n]) => n === "retry-after")?.[1], "5");
  ok(html.body.startsWith("<!doctype html>"));
  ok(!html.body.includes("secret"));
});

Deno.test("serializeErrorPage() frames the page for the wire", () => {
  const text = decoder.decode(serializeErrorPage(badGatewayPage()));
  equal(
    text,
    "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\n" +
      "content-length: 12\r\n\r\nBad gateway\n",
  );
  const head = decoder.decode(serializeErrorPage(gatewayTimeoutPage(), { isHead: true }));
  ok(head.endsWith("content-length: 16\r\n\r\n"));
  const keep = decoder.decode(serializeErrorPage(invalidHostPage("x"), { isKeepAlive10: true }));
  ok(keep.startsWith("HTTP/1.1 400 Bad Request\r\n"));
  ok(keep.includes("connection: keep-alive\r\n"));
});

Deno.test("resolveFailurePage() answers a disabled instance with 403 naming it", async (t) => {
  const err = new InstanceDisabledError("notes:alice");
  await t.step("plain text", () => {
    const page = resolveFailurePage(err, { accept: null });
    equal(page.status, 403);
    equal(page.body, "notes:alice is disabled by the operator\n");
  });
  await t.step("HTML for a browser", () => {
    const page = resolveFailurePage(err, { accept: "text/html,*/*" });
    equal(page.status, 403);
    ok(page.body.includes("<p>notes:alice is disabled by the operator.</p>"), page.body);
    equal(page.headers.find(([name]) => name === "content-type")?.[1], "text/html; charset=utf-8");
  });
  await t.step("other refusals stay a bare 403", () => {
    equal(resolveFailurePage(new ForbiddenError("x"), { accept: null }).body, "Forbidden\n");
  });
});
