import { equal } from "node:assert/strict";
import { hashToken } from "../store/tokens.ts";
import type { TokenLookup } from "./api_ports.ts";
import { Authenticator, canAccess, type Identity } from "./auth.ts";
import { HttpError } from "./http_error.ts";

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

function fakeTokens(adminToken: string): TokenLookup {
  const hash = hashToken(adminToken);
  return {
    // Each lookup waits a turn, as a KV read does: concurrent requests interleave here.
    getAdminToken: async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { tokenId: "admin", sha256: await hash, tenant: undefined };
    },
    getToken: () => Promise.resolve(undefined),
  };
}

async function statusOf(auth: Authenticator, token: string, clientIp: string): Promise<number> {
  const req = new Request("http://x/api/instances", {
    headers: { authorization: `Bearer ${token}` },
  });
  try {
    await auth.authenticate(req, clientIp);
    return 200;
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
}

Deno.test("Authenticator never refuses a valid token, however many bad ones share its address", async () => {
  const auth = new Authenticator(fakeTokens("admin-secret-token"), Date.now);
  for (let i = 0; i < 30; i++) {
    const bad = await statusOf(auth, `wrong-${i}-xxxxxxxx`, "127.0.0.1");
    equal(bad, i < 10 ? 401 : 429, `bad token ${i}`);
    equal(await statusOf(auth, "admin-secret-token", "127.0.0.1"), 200, `admin after ${i}`);
  }
  // A success does not reset the attacker's count on the shared address.
  equal(await statusOf(auth, "wrong-again-xxxxxxxx", "127.0.0.1"), 429);
});

Deno.test("Authenticator counts concurrent failures atomically: exactly 10 get 401", async () => {
  const auth = new Authenticator(fakeTokens("admin-secret-token"), Date.now);
  const statuses = await Promise.all(
    Array.from({ length: 50 }, (_, i) => statusOf(auth, `wrong-${i}-xxxxxxxx`, "203.0.113.7")),
  );
  equal(statuses.filter((s) => s === 401).length, 10);
  equal(statuses.filter((s) => s === 429).length, 40);
});
