/**
 * Checks of the values built-in TLS needs: the ACME account email, the domain certificates are
 * for, and the ACME directory URL. Shared by `[settings.tls]` and the `ten serve` / `ten install`
 * flags, so both give the same message. Pure: no I/O.
 * @module
 */

/** Let's Encrypt's production directory, the default. */
export const LETS_ENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory";
/** Let's Encrypt's staging directory (untrusted certificates, generous rate limits). */
export const LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/** Longest DNS name. */
const MAX_NAME = 253;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why `email` cannot register an ACME account, or undefined when it can: one `@`, a non-empty
 * local part and a domain part with a dot.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(emailProblem("ops@example.com"), undefined);
 * equal(emailProblem("ops@localhost"), 'ACME email "ops@localhost" needs a domain with a dot after the @');
 * ```
 */
export function emailProblem(email: string): string | undefined {
  const shown = JSON.stringify(email);
  if (/[\s<>,;:"]/.test(email) || [...email].some((c) => c < " " || c === "\x7f")) {
    return `ACME email ${shown} must be a plain address like you@example.com`;
  }
  const parts = email.split("@");
  if (parts.length !== 2) return `ACME email ${shown} must contain exactly one @`;
  const [local, domain] = parts as [string, string];
  if (local === "") return `ACME email ${shown} has nothing before the @`;
  if (!domain.includes(".") || domain.startsWith(".") || domain.endsWith(".")) {
    return `ACME email ${shown} needs a domain with a dot after the @`;
  }
  return undefined;
}

/**
 * Why certificates cannot be obtained for `domain`, or undefined when they can: a public DNS name
 * (not localhost, not an IP address).
 *
 * @example
 * ```ts
 * import { equal, match } from "node:assert/strict";
 * equal(tlsDomainProblem("app.example.com"), undefined);
 * match(tlsDomainProblem("localhost")!, /cannot be used with localhost/);
 * match(tlsDomainProblem("10.0.0.1")!, /IP address/);
 * ```
 */
export function tlsDomainProblem(domain: string): string | undefined {
  const name = domain.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) {
    return `TLS cannot be used with localhost: certificate authorities only issue for public names. Pass --domain with a domain whose DNS points at this server (and *.{domain} for tenants)`;
  }
  if (/^[0-9.]+$/.test(name) || name.includes(":")) {
    return `TLS needs a domain name, not an IP address (${domain})`;
  }
  if (
    name.length > MAX_NAME || !name.includes(".") || !name.split(".").every((l) => LABEL.test(l))
  ) {
    return `TLS domain ${JSON.stringify(domain)} is not a valid DNS name (e.g. app.example.com)`;
  }
  return undefined;
}

/**
 * Why `url` cannot be an ACME directory, or undefined when it can: an absolute https URL.
 *
 * @example
 * ```ts
 * import { equal, match } from "node:assert/strict";
 * equal(acmeDirectoryProblem(LETS_ENCRYPT_STAGING), undefined);
 * match(acmeDirectoryProblem("http://ca.example/dir")!, /https/);
 * ```
 */
export function acmeDirectoryProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `ACME directory ${JSON.stringify(url)} is not a URL (e.g. ${LETS_ENCRYPT_STAGING})`;
  }
  if (parsed.protocol !== "https:") {
    return `ACME directory ${
      JSON.stringify(url)
    } must be an https:// URL (RFC 8555 requires HTTPS)`;
  }
  return undefined;
}
