import { deepEqual } from "node:assert/strict";
import { whoamiJson } from "./whoami.ts";

Deno.test("whoamiJson() names the token's kind and scope, never the token", () => {
  deepEqual(whoamiJson({ kind: "admin" }), {
    kind: "admin",
    scope: "all",
    tenant: null,
    services: null,
  });
  deepEqual(whoamiJson({ kind: "tenant", tenant: "alice", tokenId: "alice-tk" }), {
    kind: "tenant",
    scope: "alice",
    tenant: "alice",
    services: null,
  });
  deepEqual(
    whoamiJson({
      kind: "tenant",
      tenant: "alice",
      tokenId: "alice-tk",
      services: ["notes", "api"],
    }),
    { kind: "tenant", scope: "alice in notes,api", tenant: "alice", services: ["notes", "api"] },
  );
});
