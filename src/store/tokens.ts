/**
 * API tokens: generation, hashing, the stored record and issuing. Tokens are 32 random bytes in
 * URL-safe base64 (43 characters); only their SHA-256 is stored. A slow password hash buys
 * nothing for 256-bit random secrets, and SHA-256 keeps every API request cheap.
 *
 * A token's id is its first 8 characters (as Kubernetes bootstrap tokens do): whoever holds a
 * token can tell which row of `ten token list` it is, and the other 35 characters (210 bits)
 * stay secret. The admin token made before tokens had ids keeps the id `admin`.
 * @module
 */
import type { StateStore, TokenValue } from "./state_store.ts";

/** What a token may do. */
export type TokenKind = "admin" | "tenant" | "metrics";

/** Id of the one admin token stored before tokens had ids (kept readable). */
export const LEGACY_ADMIN_ID = "admin";

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

/** The id under which a token is stored: its first 8 characters. */
export function tokenIdOf(token: string): string {
  return token.slice(0, 8);
}

/** The fields of a stored token that say what it may do (older records lack some of them). */
export interface TokenGrant {
  readonly tokenId: string;
  readonly tenant: string | undefined;
  readonly kind?: TokenKind | undefined;
}

/**
 * A record's kind. Records written before kinds existed are the admin token (id `admin`) or a
 * tenant token (they carry a tenant).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(kindOf({ tokenId: "admin", tenant: undefined }), "admin");
 * equal(kindOf({ tokenId: "Ab3dE_9x", tenant: "alice" }), "tenant");
 * ```
 */
export function kindOf(record: TokenGrant): TokenKind | undefined {
  if (record.kind !== undefined) return record.kind;
  if (record.tenant !== undefined) return "tenant";
  return record.tokenId === LEGACY_ADMIN_ID ? "admin" : undefined;
}

/** The current form of a stored token record, whatever version wrote it. */
export function upgradeTokenValue(value: TokenValue | LegacyTokenValue): TokenValue {
  if (value.v === 2) return value;
  return {
    v: 2,
    tokenId: value.tokenId,
    sha256: value.sha256,
    kind: kindOf(value) ?? "tenant",
    tenant: value.tenant,
    services: undefined,
    description: value.description,
    createdAtMs: value.createdAtMs,
    expiresAtMs: undefined,
    // The old admin token was the one in {data_dir}/api_token.
    isFileToken: value.tokenId === LEGACY_ADMIN_ID,
  };
}

/** A token record as tenement 0.x before token ids and kinds wrote it. */
export interface LegacyTokenValue {
  readonly v: 1;
  readonly tokenId: string;
  readonly sha256: string;
  readonly tenant: string | undefined;
  readonly description: string | undefined;
  readonly createdAtMs: number;
}

/** What a new token is for. */
export type TokenGrantRequest =
  | {
    readonly kind: "admin";
    /** Save it as the token of `{data_dir}/.tenement/api_token`, replacing the one saved there before. */
    readonly isFileToken: boolean;
  }
  | {
    readonly kind: "tenant";
    /** An instance id (any service), or `service:id`. */
    readonly tenant: string;
    /** Narrows a bare-id tenant token to these services. */
    readonly services: readonly string[] | undefined;
  }
  | { readonly kind: "metrics" };

/** Options of {@linkcode issueToken}. */
export interface IssueOptions {
  readonly description: string | undefined;
  readonly nowMs: number;
  /** Unix ms after which the token is refused; undefined never expires. */
  readonly expiresAtMs: number | undefined;
}

/** Makes a new token, stores its hash and returns the token with its record. */
export async function issueToken(
  store: StateStore,
  grant: TokenGrantRequest,
  options: IssueOptions,
): Promise<{ token: string; record: TokenValue }> {
  // An id clash (48 random bits) is all but impossible; a fresh token solves it.
  for (let attempt = 0; attempt < 5;) {
    const token = generateToken();
    // An id starting with "-" would read as an option in `ten token revoke ID`.
    if (token.startsWith("-")) continue;
    attempt++;
    const record: TokenValue = {
      v: 2,
      tokenId: tokenIdOf(token),
      sha256: await hashToken(token),
      kind: grant.kind,
      tenant: grant.kind === "tenant" ? grant.tenant : undefined,
      services: grant.kind === "tenant" ? grant.services : undefined,
      description: options.description,
      createdAtMs: options.nowMs,
      expiresAtMs: options.expiresAtMs,
      isFileToken: grant.kind === "admin" && grant.isFileToken,
    };
    if (await store.insertToken(record)) return { token, record };
  }
  throw new Error("Cannot store a new token: its id clashed with existing tokens five times");
}

/** Makes a new admin token saved as the file token (replacing the old one) and returns it. */
export async function issueAdminToken(store: StateStore, nowMs: number): Promise<string> {
  const grant = { kind: "admin", isFileToken: true } as const;
  return (await issueToken(store, grant, { description: undefined, nowMs, expiresAtMs: undefined }))
    .token;
}

/** Makes a new tenant token and returns it. */
export async function issueTenantToken(
  store: StateStore,
  tenant: string,
  description: string | undefined,
  nowMs: number,
): Promise<string> {
  const grant = { kind: "tenant", tenant, services: undefined } as const;
  return (await issueToken(store, grant, { description, nowMs, expiresAtMs: undefined })).token;
}
