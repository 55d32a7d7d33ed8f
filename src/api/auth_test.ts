import { equal } from "node:assert/strict";
import { canAccess, type Identity } from "./auth.ts";

Deno.test("canAccess(): a tenant token reaches its own instance whatever the id's case, and no other", () => {
  const bob: Identity = { kind: "tenant", tenant: "notes:Bob", tokenId: "t1" };
  const bare: Identity = { kind: "tenant", tenant: "bob", tokenId: "t2" };
  const cases: [Identity, string | undefined, string, boolean][] = [
    [bob, "notes", "Bob", true],
    [bob, "notes", "bob", true],
    [bob, undefined, "BOB", true],
    [bob, "api", "bob", false],
    [bob, "notes", "bobby", false],
    [bare, "notes", "Bob", true],
    [bare, "notes", "alice", false],
    [{ kind: "admin" }, "notes", "anyone", true],
  ];
  for (const [identity, service, id, expected] of cases) {
    equal(
      canAccess(identity, service, id),
      expected,
      `${JSON.stringify(identity)} ${service}:${id}`,
    );
  }
});

Deno.test("canAccess(): --services narrows a bare-id tenant token; a metrics token reaches nothing", () => {
  const narrowed: Identity = {
    kind: "tenant",
    tenant: "alice",
    tokenId: "t3",
    services: ["notes"],
  };
  const metrics: Identity = { kind: "metrics" };
  const cases: [Identity, string | undefined, string, boolean][] = [
    [narrowed, "notes", "alice", true],
    [narrowed, "NOTES", "Alice", true],
    [narrowed, "api", "alice", false],
    [narrowed, "notes", "bob", false],
    [narrowed, undefined, "alice", true],
    [metrics, "notes", "alice", false],
    [metrics, undefined, "alice", false],
  ];
  for (const [identity, service, id, expected] of cases) {
    equal(
      canAccess(identity, service, id),
      expected,
      `${JSON.stringify(identity)} ${service}:${id}`,
    );
  }
});
