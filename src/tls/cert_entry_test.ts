import { deepEqual, equal } from "node:assert/strict";
import { buildCertIndex, certStatusOf, lookupCert, newCertEntry } from "./cert_entry.ts";
import type { IssuedCert } from "./cert_store.ts";

function cert(names: string[], notAfterMs: number): IssuedCert {
  return {
    names,
    certPem: `chain of ${names[0]} until ${notAfterMs}`,
    keyPem: "key",
    notBeforeMs: 0,
    notAfterMs,
    issuer: "Test CA",
  };
}

Deno.test("lookupCert() serves exact names, then the parent's wildcard, and the domain without SNI", () => {
  const index = buildCertIndex([
    newCertEntry(["*.notes.example.test", "notes.example.test"], "dns-01", {
      cert: cert(["*.notes.example.test", "notes.example.test"], 10),
    }),
    newCertEntry(["example.test"], "dns-01", { cert: cert(["example.test"], 10) }),
    newCertEntry(["alice.notes.example.test"], "http-01", {
      cert: cert(["alice.notes.example.test"], 10),
    }),
    newCertEntry(["*.api.example.test", "api.example.test"], "dns-01"),
  ]);
  const served = (sni: string) => lookupCert(index, sni, "Example.test", 0)?.cert;
  equal(served("alice.notes.example.test"), "chain of alice.notes.example.test until 10");
  equal(served("Bob.Notes.example.test"), "chain of *.notes.example.test until 10");
  equal(served("notes.example.test"), "chain of *.notes.example.test until 10");
  equal(served("example.test"), "chain of example.test until 10");
  equal(served(""), "chain of example.test until 10");
  equal(served("x.api.example.test"), undefined);
  equal(served("x.bob.notes.example.test"), undefined);
  equal(served("other.test"), undefined);
});

Deno.test("buildCertIndex() prefers the certificate valid longer when two cover a name", () => {
  const index = buildCertIndex([
    newCertEntry(["notes.example.test"], "http-01", { cert: cert(["notes.example.test"], 5) }),
    newCertEntry(["*.notes.example.test", "notes.example.test"], "dns-01", {
      cert: cert(["*.notes.example.test", "notes.example.test"], 9),
    }),
  ]);
  equal(index.get("notes.example.test")?.challenge, "dns-01");
});

Deno.test("certStatusOf() shows instants as ISO 8601 and nothing for what is not there", () => {
  const entry = newCertEntry(["example.test"], "dns-01", {
    lastError: "hook failed",
    lastErrorAtMs: Date.UTC(2026, 10, 29),
  });
  entry.nextAttemptMs = Date.UTC(2026, 10, 29, 0, 1);
  deepEqual(certStatusOf(entry), {
    names: ["example.test"],
    challenge: "dns-01",
    issuer: undefined,
    notBefore: undefined,
    notAfter: undefined,
    nextAttempt: "2026-11-29T00:01:00.000Z",
    lastError: "hook failed",
    lastErrorAt: "2026-11-29T00:00:00.000Z",
  });
});

Deno.test("lookupCert() never serves an expired certificate: it falls back to the wildcard, or to none", () => {
  const index = buildCertIndex([
    newCertEntry(["*.notes.example.test", "notes.example.test"], "dns-01", {
      cert: cert(["*.notes.example.test", "notes.example.test"], 2_000),
    }),
    newCertEntry(["alice.notes.example.test"], "http-01", {
      cert: cert(["alice.notes.example.test"], 1_000),
    }),
  ]);
  const served = (sni: string, nowMs: number) =>
    lookupCert(index, sni, "example.test", nowMs)?.cert;
  equal(served("alice.notes.example.test", 999), "chain of alice.notes.example.test until 1000");
  equal(served("alice.notes.example.test", 1_000), "chain of *.notes.example.test until 2000");
  equal(served("alice.notes.example.test", 2_000), undefined);
  equal(served("notes.example.test", 2_000), undefined);
});
