import { deepEqual, equal, match, notEqual, ok, rejects } from "node:assert/strict";
import { ConflictError, NotFoundError } from "../core/errors.ts";
import { StateStore } from "./state_store.ts";
import {
  generateToken,
  hashToken,
  isSameHash,
  issueAdminToken,
  issueTenantToken,
  issueToken,
  tokenIdOf,
} from "./tokens.ts";

/** A real KV store in a fresh temp dir; dispose closes it (unless closed) and removes the dir. */
async function tempStore(): Promise<
  { store: StateStore; path: string; close(): void } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "tenement-tokens-" });
  const path = `${dir}/tenement.kv`;
  const store = await StateStore.open(path);
  let isOpen = true;
  const close = (): void => {
    if (isOpen) store[Symbol.dispose]();
    isOpen = false;
  };
  return {
    store,
    path,
    close,
    async [Symbol.asyncDispose]() {
      close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("generateToken() makes distinct 43-character URL-safe tokens", () => {
  const tokens = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const token = generateToken();
    match(token, /^[A-Za-z0-9_-]{43}$/);
    tokens.add(token);
  }
  equal(tokens.size, 200);
});

Deno.test("hashToken() is the stable hex SHA-256 of the token", async () => {
  equal(
    await hashToken("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  equal(
    await hashToken(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  const token = generateToken();
  equal(await hashToken(token), await hashToken(token));
  match(await hashToken(token), /^[0-9a-f]{64}$/);
  notEqual(await hashToken(token), await hashToken(`${token}x`));
});

Deno.test("isSameHash() is true only for identical strings", async () => {
  const a = await hashToken("a");
  const b = await hashToken("b");
  equal(isSameHash(a, a), true);
  equal(isSameHash(a, `${a}`), true);
  equal(isSameHash(a, b), false);
  equal(isSameHash(a, `${a.slice(0, -1)}${a.endsWith("0") ? "1" : "0"}`), false);
  equal(isSameHash(a, a.slice(0, -1)), false);
  equal(isSameHash(a, ""), false);
  equal(isSameHash("", ""), true);
});

Deno.test("tokenIdOf() is the first 8 characters", () => {
  equal(tokenIdOf("abcdefghijklmnop"), "abcdefgh");
});

Deno.test("issueAdminToken() stores only the hash, and a new file admin token replaces the old", async () => {
  await using tmp = await tempStore();
  const first = await issueAdminToken(tmp.store, 1000);
  match(first, /^[A-Za-z0-9_-]{43}$/);
  const stored = await tmp.store.getToken(tokenIdOf(first));
  ok(stored);
  equal(stored.kind, "admin");
  equal(stored.isFileToken, true);
  equal(stored.sha256, await hashToken(first));
  equal(stored.createdAtMs, 1000);
  equal(stored.tenant, undefined);
  ok(!JSON.stringify(stored).includes(first), "the token itself must not be stored");

  const second = await issueAdminToken(tmp.store, 2000);
  notEqual(second, first);
  equal(await tmp.store.getToken(tokenIdOf(first)), undefined, "the old file token is gone");
  equal((await tmp.store.getToken(tokenIdOf(second)))?.createdAtMs, 2000);
});

Deno.test("several admin tokens: an added one survives a new file token", async () => {
  await using tmp = await tempStore();
  const file = await issueAdminToken(tmp.store, 1);
  const added = await issueToken(tmp.store, { kind: "admin", isFileToken: false }, {
    description: "ci",
    nowMs: 2,
    expiresAtMs: undefined,
  });
  const next = await issueAdminToken(tmp.store, 3);
  deepEqual(
    (await tmp.store.listTokens()).map((t) => [t.tokenId, t.kind, t.description ?? null]),
    [[added.record.tokenId, "admin", "ci"], [tokenIdOf(next), "admin", null]],
  );
  equal(await tmp.store.getToken(tokenIdOf(file)), undefined);
});

Deno.test("issueTenantToken() can be found by its id and carries the tenant", async () => {
  await using tmp = await tempStore();
  const token = await issueTenantToken(tmp.store, "alice", "CI deploys", 5000);
  const stored = await tmp.store.getToken(tokenIdOf(token));
  ok(stored);
  equal(stored.tokenId, tokenIdOf(token));
  equal(stored.tenant, "alice");
  equal(stored.description, "CI deploys");
  equal(stored.createdAtMs, 5000);
  equal(stored.sha256, await hashToken(token));
  ok(!JSON.stringify(stored).includes(token), "the token itself must not be stored");

  const other = await issueTenantToken(tmp.store, "bob", undefined, 6000);
  equal((await tmp.store.getToken(tokenIdOf(other)))?.tenant, "bob");
  equal((await tmp.store.getToken(tokenIdOf(other)))?.description, undefined);
  equal((await tmp.store.getToken(tokenIdOf(token)))?.tenant, "alice");
  equal(await tmp.store.getToken("nonexist"), undefined);
});

Deno.test("issued tokens survive closing and reopening the store", async () => {
  await using tmp = await tempStore();
  const admin = await issueAdminToken(tmp.store, 1);
  const tenant = await issueTenantToken(tmp.store, "alice", undefined, 2);
  tmp.close();
  using reopened = await StateStore.open(tmp.path);
  equal((await reopened.getToken(tokenIdOf(admin)))?.sha256, await hashToken(admin));
  equal((await reopened.getToken(tokenIdOf(tenant)))?.sha256, await hashToken(tenant));
});

Deno.test("a store from before token ids keeps its admin and tenant tokens, upgraded on open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tenement-tokens-" });
  try {
    const path = `${dir}/tenement.kv`;
    const admin = generateToken();
    const tenant = generateToken();
    {
      // The layout tenement wrote before: schema 1, one admin record, v1 tenant records.
      using kv = await Deno.openKv(path);
      await kv.set(["meta", "schema_version"], 1);
      await kv.set(["tokens", "admin"], {
        v: 1,
        tokenId: "admin",
        sha256: await hashToken(admin),
        tenant: undefined,
        description: undefined,
        createdAtMs: 10,
      });
      await kv.set(["tokens", tokenIdOf(tenant)], {
        v: 1,
        tokenId: tokenIdOf(tenant),
        sha256: await hashToken(tenant),
        tenant: "alice",
        description: "old",
        createdAtMs: 20,
      });
    }
    using store = await StateStore.open(path);
    const listed = await store.listTokens();
    deepEqual(listed.map((t) => [t.v, t.tokenId, t.kind, t.tenant ?? null, t.isFileToken]), [
      [2, "admin", "admin", null, true],
      [2, tokenIdOf(tenant), "tenant", "alice", false],
    ]);
    equal((await store.getAdminToken())?.sha256, await hashToken(admin));
    // The next token-gen replaces the old admin token, as it replaced it before.
    await issueAdminToken(store, 30);
    equal(await store.getAdminToken(), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("revokeToken() deletes a token, and refuses the last admin token unless forced", async () => {
  await using tmp = await tempStore();
  const admin = await issueAdminToken(tmp.store, 1);
  const tenant = await issueTenantToken(tmp.store, "alice", undefined, 2);
  await tmp.store.touchToken(tokenIdOf(tenant), 5);
  equal((await tmp.store.listTokens()).find((t) => t.kind === "tenant")?.lastUsedMs, 5);

  equal(
    (await tmp.store.revokeToken(tokenIdOf(tenant), { force: false, nowMs: 9 })).tenant,
    "alice",
  );
  equal(await tmp.store.getToken(tokenIdOf(tenant)), undefined);
  await rejects(
    tmp.store.revokeToken(tokenIdOf(tenant), { force: false, nowMs: 9 }),
    NotFoundError,
  );
  // A use that races the revocation leaves nothing behind.
  await tmp.store.touchToken(tokenIdOf(tenant), 10);
  equal((await tmp.store.listTokens()).length, 1);

  // An expired admin token does not count as the one left.
  await issueToken(tmp.store, { kind: "admin", isFileToken: false }, {
    description: undefined,
    nowMs: 3,
    expiresAtMs: 8,
  });
  await rejects(
    tmp.store.revokeToken(tokenIdOf(admin), { force: false, nowMs: 9 }),
    (err: unknown) => err instanceof ConflictError && /last admin token/.test(err.message),
  );
  ok(await tmp.store.getToken(tokenIdOf(admin)));
  await tmp.store.revokeToken(tokenIdOf(admin), { force: true, nowMs: 9 });
  equal(await tmp.store.getToken(tokenIdOf(admin)), undefined);
});

Deno.test("issueToken() stores the kind, scope, services and expiry", async () => {
  await using tmp = await tempStore();
  const narrowed = await issueToken(
    tmp.store,
    { kind: "tenant", tenant: "alice", services: ["notes", "api"] },
    { description: "CI", nowMs: 1, expiresAtMs: 100 },
  );
  const metrics = await issueToken(tmp.store, { kind: "metrics" }, {
    description: undefined,
    nowMs: 2,
    expiresAtMs: undefined,
  });
  const stored = await tmp.store.getToken(narrowed.record.tokenId);
  deepEqual(stored?.services, ["notes", "api"]);
  equal(stored?.expiresAtMs, 100);
  equal((await tmp.store.getToken(metrics.record.tokenId))?.kind, "metrics");
  equal((await tmp.store.getToken(metrics.record.tokenId))?.tenant, undefined);
});

Deno.test("issued tokens never start with a dash, so their ids never read as options", async () => {
  await using tmp = await tempStore();
  for (let i = 0; i < 200; i++) {
    const { token } = await issueToken(tmp.store, { kind: "metrics" }, {
      description: undefined,
      nowMs: i,
      expiresAtMs: undefined,
    });
    ok(!token.startsWith("-"), token);
  }
});
