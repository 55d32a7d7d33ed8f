import { deepEqual, equal, rejects } from "node:assert/strict";
import { StateStore } from "../store/state_store.ts";
import { issueToken, tokenIdOf } from "../store/tokens.ts";
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
