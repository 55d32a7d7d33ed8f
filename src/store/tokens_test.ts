import { equal, match, notEqual, ok } from "node:assert/strict";
import { StateStore } from "./state_store.ts";
import {
  generateToken,
  hashToken,
  isSameHash,
  issueAdminToken,
  issueTenantToken,
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

Deno.test("issueAdminToken() stores only the hash, and a new admin token replaces the old", async () => {
  await using tmp = await tempStore();
  equal(await tmp.store.getAdminToken(), undefined);

  const first = await issueAdminToken(tmp.store, 1000);
  match(first, /^[A-Za-z0-9_-]{43}$/);
  const stored = await tmp.store.getAdminToken();
  ok(stored);
  equal(stored.tokenId, "admin");
  equal(stored.sha256, await hashToken(first));
  equal(stored.createdAtMs, 1000);
  equal(stored.tenant, undefined);
  ok(!JSON.stringify(stored).includes(first), "the token itself must not be stored");

  const second = await issueAdminToken(tmp.store, 2000);
  notEqual(second, first);
  const replaced = await tmp.store.getAdminToken();
  ok(replaced);
  equal(replaced.sha256, await hashToken(second));
  equal(isSameHash(replaced.sha256, await hashToken(first)), false);
  equal(replaced.createdAtMs, 2000);
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
  equal((await reopened.getAdminToken())?.sha256, await hashToken(admin));
  equal((await reopened.getToken(tokenIdOf(tenant)))?.sha256, await hashToken(tenant));
});
