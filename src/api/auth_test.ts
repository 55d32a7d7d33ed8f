import { deepEqual, equal, rejects } from "node:assert/strict";
import { StateStore } from "../store/state_store.ts";
import { hashToken, issueToken, tokenIdOf } from "../store/tokens.ts";
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
      return {
        tokenId: "admin",
        sha256: await hash,
        kind: "admin" as const,
        tenant: undefined,
        services: undefined,
        description: undefined,
        createdAtMs: 0,
        expiresAtMs: undefined,
        isFileToken: true,
      };
    },
    getToken: () => Promise.resolve(undefined),
    touchToken: () => Promise.resolve(),
    listTokens: () => Promise.resolve([]),
    revokeToken: () => Promise.reject(new Error("not used")),
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

Deno.test("Authenticator: last use written at most once a minute; expired and revoked tokens get 401", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tenement-auth-" });
  try {
    using store = await StateStore.open(`${dir}/tenement.kv`);
    let nowMs = 1_000;
    const auth = new Authenticator(store, () => nowMs);
    const request = (token: string): Request =>
      new Request("http://localhost/api/instances", {
        headers: { authorization: `Bearer ${token}` },
      });
    const { token } = await issueToken(
      store,
      { kind: "tenant", tenant: "alice", services: ["notes"] },
      { description: undefined, nowMs: 0, expiresAtMs: 200_000 },
    );
    const lastUsed = async (): Promise<number | undefined> =>
      (await store.listTokens()).find((t) => t.tokenId === tokenIdOf(token))?.lastUsedMs;

    deepEqual(await auth.authenticate(request(token), "10.0.0.1"), {
      kind: "tenant",
      tenant: "alice",
      tokenId: tokenIdOf(token),
      services: ["notes"],
    });
    equal(await lastUsed(), 1_000);
    nowMs = 30_000;
    await auth.authenticate(request(token), "10.0.0.1");
    equal(await lastUsed(), 1_000, "written again within a minute");
    nowMs = 61_001;
    await auth.authenticate(request(token), "10.0.0.1");
    equal(await lastUsed(), 61_001);

    nowMs = 200_000;
    await rejects(
      auth.authenticate(request(token), "10.0.0.1"),
      (err: unknown) =>
        err instanceof HttpError && err.status === 401 && /expired/.test(err.message),
    );
    // Expired tokens count toward the failed-login limit like wrong ones.
    for (let i = 1; i < 10; i++) {
      await rejects(auth.authenticate(request(token), "10.0.0.1"), /expired/);
    }
    await rejects(
      auth.authenticate(request(token), "10.0.0.1"),
      (err: unknown) => err instanceof HttpError && err.status === 429,
    );

    const { token: metrics } = await issueToken(store, { kind: "metrics" }, {
      description: undefined,
      nowMs: 0,
      expiresAtMs: undefined,
    });
    deepEqual(await auth.authenticate(request(metrics), "10.0.0.2"), { kind: "metrics" });
    await store.revokeToken(tokenIdOf(metrics), { force: false, nowMs });
    await rejects(
      auth.authenticate(request(metrics), "10.0.0.2"),
      (err: unknown) => err instanceof HttpError && err.status === 401,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
