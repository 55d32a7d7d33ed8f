import { deepEqual, equal } from "node:assert/strict";
import { type HostRoute, normalizeHost, parseHostRoute } from "./host_route.ts";

Deno.test("normalizeHost() lower-cases and drops the port and a trailing dot", () => {
  const cases: [host: string, normalized: string][] = [
    ["Notes.LocalHost", "notes.localhost"],
    ["notes.localhost:8080", "notes.localhost"],
    ["notes.localhost.", "notes.localhost"],
    ["NOTES.localhost.:443", "notes.localhost"],
    ["  notes.localhost  ", "notes.localhost"],
    ["127.0.0.1:8080", "127.0.0.1"],
    ["[::1]", "[::1]"],
    ["[::1]:8080", "[::1]"],
    ["[FE80::1]:80", "[fe80::1]"],
    ["[::1", "[::1"],
    ["", ""],
  ];
  for (const [host, normalized] of cases) equal(normalizeHost(host), normalized, host);
});

Deno.test("parseHostRoute() routes id.service.domain, service.domain and everything else", async (t) => {
  const direct = (service: string, id: string): HostRoute => ({ kind: "direct", service, id });
  const weighted = (service: string): HostRoute => ({ kind: "weighted", service });
  const builtin: HostRoute = { kind: "builtin" };
  const cases: [host: string | null, domain: string, route: HostRoute][] = [
    // No Host header at all: tenement's own routes.
    [null, "example.com", builtin],
    ["", "example.com", builtin],
    ["   ", "example.com", builtin],
    // The bare domain, in every spelling.
    ["example.com", "example.com", builtin],
    ["EXAMPLE.COM:8080", "example.com", builtin],
    ["example.com.", "example.com", builtin],
    ["example.com", "Example.COM.", builtin],
    // One label: a service (weighted).
    ["notes.example.com", "example.com", weighted("notes")],
    ["Notes.Example.Com:8080", "example.com", weighted("notes")],
    ["notes.example.com.", "example.com", weighted("notes")],
    ["notes.example.com.:443", "example.com", weighted("notes")],
    ["notes.example.com", "EXAMPLE.com.", weighted("notes")],
    ["xn--bcher-kva.example.com", "example.com", weighted("xn--bcher-kva")],
    ["my_app-2.example.com", "example.com", weighted("my_app-2")],
    // Two labels: one instance (direct).
    ["alice.notes.example.com", "example.com", direct("notes", "alice")],
    ["ALICE.Notes.example.com:8443", "example.com", direct("notes", "alice")],
    ["alice.notes.localhost", "localhost", direct("notes", "alice")],
    // Names that only look like they are under the domain.
    ["fooexample.com", "example.com", builtin],
    ["notes.fooexample.com", "example.com", builtin],
    ["alice.notes.fooexample.com", "example.com", builtin],
    ["example.com.evil.net", "example.com", builtin],
    ["notes.example.com.evil.net", "example.com", builtin],
    ["example.co", "example.com", builtin],
    ["com", "example.com", builtin],
    // Addresses.
    ["127.0.0.1", "localhost", builtin],
    ["127.0.0.1:8080", "localhost", builtin],
    ["[::1]:8080", "localhost", builtin],
    ["[::1]", "localhost", builtin],
  ];
  for (const [host, domain, route] of cases) {
    await t.step(`${JSON.stringify(host)} under ${JSON.stringify(domain)}`, () => {
      deepEqual(parseHostRoute(host, domain), route);
    });
  }
});

Deno.test("parseHostRoute() rejects names under the domain with more than two labels", () => {
  for (const host of ["a.b.notes.example.com", "x.y.z.w.example.com"]) {
    deepEqual(parseHostRoute(host, "example.com"), {
      kind: "invalid",
      reason: 'too many labels before "example.com" (expected id.service)',
    });
  }
});

Deno.test("parseHostRoute() rejects labels that are not valid service names or ids", async (t) => {
  const cases: [host: string, label: string][] = [
    [".example.com", ""],
    ["alice..example.com", ""],
    [".notes.example.com", ""],
    ["al!ce.notes.example.com", "al!ce"],
    ["notes%2e.example.com", "notes%2e"],
    ["ñ.example.com", "ñ"],
    [`${"a".repeat(64)}.example.com`, "a".repeat(64)],
    ["alice.n*tes.example.com", "n*tes"],
  ];
  for (const [host, label] of cases) {
    await t.step(host, () => {
      deepEqual(parseHostRoute(host, "example.com"), {
        kind: "invalid",
        reason: `"${label}" is not a valid service name or id`,
      });
    });
  }
});

Deno.test("parseHostRoute() accepts a label of exactly 63 characters", () => {
  const label = "a".repeat(63);
  deepEqual(parseHostRoute(`${label}.example.com`, "example.com"), {
    kind: "weighted",
    service: label,
  });
});

Deno.test("parseHostRoute() answers labels starting with - or _ as unknown names", async (t) => {
  const cases: [host: string, label: string][] = [
    ["-x.notes.example.com", "-x"],
    ["_x.notes.example.com", "_x"],
    ["--help.notes.example.com", "--help"],
    ["alice._notes.example.com", "_notes"],
    ["-notes.example.com", "-notes"],
  ];
  for (const [host, label] of cases) {
    await t.step(host, () => {
      deepEqual(parseHostRoute(host, "example.com"), {
        kind: "unknown",
        reason: `"${label}" starts with ${
          JSON.stringify(label[0])
        } (it must start with a letter or digit)`,
      });
    });
  }
});
