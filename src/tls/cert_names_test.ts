import { deepEqual, equal } from "node:assert/strict";
import { judgeOnDemand, lookupNames, plannedCerts } from "./cert_names.ts";

Deno.test("plannedCerts() plans one wildcard+base per service plus the domain", () => {
  deepEqual(plannedCerts("example.test", []), [{ names: ["example.test"] }]);
  deepEqual(plannedCerts("", ["notes"]), []);
  deepEqual(plannedCerts("example.test.", ["NOTES"]), [
    { names: ["example.test"] },
    { names: ["*.notes.example.test", "notes.example.test"] },
  ]);
});

Deno.test("lookupNames() tries the exact name, then the parent's wildcard", () => {
  const cases: [string, string[]][] = [
    ["alice.notes.example.test", ["alice.notes.example.test", "*.notes.example.test"]],
    ["NOTES.example.test.", ["notes.example.test", "*.example.test"]],
    ["example", ["example"]],
    ["", []],
    ["*.notes.example.test", []],
    ["a".repeat(254), []],
  ];
  for (const [sni, expected] of cases) deepEqual(lookupNames(sni), expected, sni);
});

Deno.test("judgeOnDemand() allows only names the config covers", async (t) => {
  const asked: string[] = [];
  const policy = {
    domain: "example.test",
    services: ["Notes", "api"],
    mayObtainCertificate: (service: string, id: string) => {
      asked.push(`${service}:${id}`);
      return id === "alice";
    },
  };
  const cases: [name: string, allowed: string | undefined][] = [
    ["example.test", "example.test"],
    ["EXAMPLE.test", "example.test"],
    ["notes.example.test", "notes.example.test"],
    ["alice.notes.example.test", "alice.notes.example.test"],
    ["Alice.NOTES.example.test", "alice.notes.example.test"],
    ["bob.notes.example.test", undefined],
    ["blog.example.test", undefined],
    ["x.alice.notes.example.test", undefined],
    ["example.org", undefined],
    ["notes.example.test.evil.org", undefined],
    ["", undefined],
    ["127.0.0.1", undefined],
    ["[::1]", undefined],
    ["under_score.notes.example.test", undefined],
    [`${"a".repeat(250)}.example.test`, undefined],
  ];
  for (const [name, allowed] of cases) {
    await t.step(name.slice(0, 40) || "(empty)", () => {
      const verdict = judgeOnDemand(name, policy);
      equal(verdict.kind === "allowed" ? verdict.name : undefined, allowed);
    });
  }
  // mayObtainCertificate is asked only about instances of configured services, with the configured name.
  deepEqual(asked, ["Notes:alice", "Notes:alice", "Notes:bob"]);
});

Deno.test("judgeOnDemand() refuses everything without a domain", () => {
  const verdict = judgeOnDemand("notes", {
    domain: "",
    services: ["notes"],
    mayObtainCertificate: () => true,
  });
  equal(verdict.kind, "refused");
});

Deno.test("judgeOnDemand() says which refusals may change later: only instances not known yet", () => {
  const policy = { domain: "example.test", services: ["notes"], mayObtainCertificate: () => false };
  const mayChange = (name: string) => {
    const verdict = judgeOnDemand(name, policy);
    return verdict.kind === "refused" ? verdict.mayChange : undefined;
  };
  equal(mayChange("r1.notes.example.test"), true);
  equal(mayChange("scanner.example.org"), false);
  equal(mayChange("x.nosvc.example.test"), false);
  equal(mayChange("127.0.0.1"), false);
  equal(mayChange("a_b.notes.example.test"), false);
});

Deno.test("plannedCerts() leaves out services whose names are not DNS labels", () => {
  deepEqual(plannedCerts("example.test", ["my_app", "-x", "ok"]).map((p) => p.names[0]), [
    "example.test",
    "*.ok.example.test",
  ]);
});
