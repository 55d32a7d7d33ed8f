/**
 * Sticky weighted routing: while traffic of a service is split (a canary), a cookie set by
 * tenement keeps each client on the instance it first got, so a user does not flip between
 * versions mid-session. Pure: no I/O.
 * @module
 */

/** How long a client stays pinned, in seconds. */
export const STICKY_MAX_AGE_SECS = 3600;

/**
 * The cookie name for a service: `tenement_sticky_<service>`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(stickyCookieName("notes"), "tenement_sticky_notes");
 * ```
 */
export function stickyCookieName(service: string): string {
  return `tenement_sticky_${service}`;
}

/**
 * The pinned instance id from a Cookie header, if any.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(readStickyId("a=1; tenement_sticky_notes=v2", "notes"), "v2");
 * equal(readStickyId(null, "notes"), undefined);
 * ```
 */
export function readStickyId(cookieHeader: string | null, service: string): string | undefined {
  if (!cookieHeader) return undefined;
  const name = stickyCookieName(service);
  for (const part of cookieHeader.split(/;\s*|,\s*/)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,63}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * The Set-Cookie value that pins a client to `id`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(stickyCookie("notes", "v2"),
 *   "tenement_sticky_notes=v2; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax");
 * ```
 */
export function stickyCookie(service: string, id: string): string {
  return `${
    stickyCookieName(service)
  }=${id}; Path=/; Max-Age=${STICKY_MAX_AGE_SECS}; HttpOnly; SameSite=Lax`;
}
