/**
 * API tokens: generation, hashing and issuing. Tokens are 32 random bytes in URL-safe base64
 * (43 characters); only their SHA-256 is stored. A slow password hash buys nothing for 256-bit
 * random secrets, and SHA-256 keeps every API request cheap.
 * @module
 */
import type { StateStore } from "./state_store.ts";

/** A new random token, 43 characters of `[A-Za-z0-9_-]`. */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** Hex SHA-256 of a token. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares two equal-length hex strings in constant time. */
export function isSameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The id under which a tenant token is stored: its first 8 characters. */
export function tokenIdOf(token: string): string {
  return token.slice(0, 8);
}

/** Makes a new admin token (replacing the old one) and returns it. */
export async function issueAdminToken(store: StateStore, nowMs: number): Promise<string> {
  const token = generateToken();
  await store.setAdminToken({
    tokenId: "admin",
    sha256: await hashToken(token),
    tenant: undefined,
    description: undefined,
    createdAtMs: nowMs,
  });
  return token;
}

/** Makes a new tenant token and returns it. */
export async function issueTenantToken(
  store: StateStore,
  tenant: string,
  description: string | undefined,
  nowMs: number,
): Promise<string> {
  const token = generateToken();
  await store.addTenantToken({
    tokenId: tokenIdOf(token),
    sha256: await hashToken(token),
    tenant,
    description,
    createdAtMs: nowMs,
  });
  return token;
}
