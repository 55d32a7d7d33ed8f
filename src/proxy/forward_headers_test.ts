import { deepEqual, equal } from "node:assert/strict";
import {
  filterHopByHop,
  forwardHeaders,
  HOP_BY_HOP_HEADERS,
  responseHeaders,
  stripHopByHop,
} from "./forward_headers.ts";

const INFO = { clientIp: "203.0.113.7", proto: "https", host: "alice.notes.example.com" } as const;

function hopByHopHeaders(): Headers {
  return new Headers({
    connection: "keep-alive, X-Trace-Id, upgrade",
    "keep-alive": "timeout=5",
    "proxy-authenticate": "Basic",
    "proxy-authorization": "Basic Zm9vOmJhcg==",
    te: "trailers",
    trailer: "x-checksum",
    "transfer-encoding": "chunked",
    upgrade: "websocket",
    "proxy-connection": "keep-alive",
    "x-trace-id": "abc",
  });
}

Deno.test("forwardHeaders() drops every hop-by-hop header and every name listed in Connection", () => {
  const out = forwardHeaders(hopByHopHeaders(), INFO);
  for (const name of [...HOP_BY_HOP_HEADERS, "x-trace-id"]) equal(out.has(name), false, name);
  deepEqual([...out.keys()], ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"]);
});

Deno.test("forwardHeaders() keeps end-to-end headers byte for byte", () => {
  const incoming = new Headers({
    host: "alice.notes.example.com:8443",
    authorization: "Bearer secret",
    cookie: "session=1; theme=dark",
    "accept-encoding": "gzip, br",
    "content-type": "application/json",
    "content-length": "42",
    "x-latin1": "caf\u00e9",
  });
  const out = forwardHeaders(incoming, INFO);
  for (const [name, value] of incoming) equal(out.get(name), value, name);
});

Deno.test("forwardHeaders() sets X-Forwarded-Proto and -Host, overriding client values", () => {
  const incoming = new Headers({
    "x-forwarded-proto": "gopher",
    "x-forwarded-host": "evil.example",
  });
  const out = forwardHeaders(incoming, INFO);
  equal(out.get("x-forwarded-proto"), "https");
  equal(out.get("x-forwarded-host"), "alice.notes.example.com");
});

Deno.test("forwardHeaders() builds X-Forwarded-For", async (t) => {
  const cases: { name: string; incoming: string | null; trust?: boolean; expected: string }[] = [
    { name: "sets the client ip when absent", incoming: null, expected: "203.0.113.7" },
    {
      name: "appends to an existing list",
      incoming: "198.51.100.1, 10.0.0.2",
      expected: "198.51.100.1, 10.0.0.2, 203.0.113.7",
    },
    { name: "ignores an empty value", incoming: "  ", expected: "203.0.113.7" },
    {
      name: "replaces the list when untrusted",
      incoming: "6.6.6.6",
      trust: false,
      expected: "203.0.113.7",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const incoming = new Headers(c.incoming === null ? {} : { "x-forwarded-for": c.incoming });
      const info = c.trust === undefined ? INFO : { ...INFO, trustIncoming: c.trust };
      equal(forwardHeaders(incoming, info).get("x-forwarded-for"), c.expected);
    });
  }
});

Deno.test("forwardHeaders() does not modify its input", () => {
  const incoming = hopByHopHeaders();
  const before = [...incoming];
  forwardHeaders(incoming, INFO);
  deepEqual([...incoming], before);
});

Deno.test("responseHeaders() drops hop-by-hop but keeps length, encoding and every Set-Cookie", () => {
  const upstream = new Headers([
    ["connection", "close, x-internal"],
    ["x-internal", "1"],
    ["keep-alive", "timeout=5"],
    ["transfer-encoding", "chunked"],
    ["content-length", "120"],
    ["content-encoding", "gzip"],
    ["set-cookie", "a=1; Path=/"],
    ["set-cookie", "b=2; Path=/"],
  ]);
  const out = responseHeaders(upstream);
  deepEqual([...out], [
    ["content-encoding", "gzip"],
    ["content-length", "120"],
    ["set-cookie", "a=1; Path=/"],
    ["set-cookie", "b=2; Path=/"],
  ]);
});

Deno.test("stripHopByHop() ignores Connection tokens that are not header names", () => {
  const headers = new Headers({ connection: "close, , bad token, x-a", "x-a": "1", "x-b": "2" });
  stripHopByHop(headers);
  deepEqual([...headers], [["x-b", "2"]]);
});

Deno.test("filterHopByHop() applies the same rules to a parsed field list, keeping order and duplicates", () => {
  const fields: [string, string][] = [
    ["set-cookie", "a=1"],
    ["connection", "X-Internal"],
    ["x-internal", "1"],
    ["upgrade", "h2c"],
    ["set-cookie", "b=2"],
    ["content-length", "0"],
  ];
  deepEqual(filterHopByHop(fields), [["set-cookie", "a=1"], ["set-cookie", "b=2"], [
    "content-length",
    "0",
  ]]);
});
