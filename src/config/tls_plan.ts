/**
 * Whether `ten serve` runs built-in TLS and with what: `[settings.tls]` combined with the
 * `--tls`, `--email`, `--staging` and `--domain` flags into one checked plan. Pure: no I/O (the
 * daemon checks that the CA file and the hook exist when it starts).
 * @module
 */
import { InvalidInputError } from "../core/errors.ts";
import type { TlsSettings } from "./schema.ts";
import {
  emailProblem,
  LETS_ENCRYPT_PRODUCTION,
  LETS_ENCRYPT_STAGING,
  tlsDomainProblem,
} from "./tls_values.ts";

/** Everything the daemon needs to serve HTTPS with ACME certificates. */
export interface TlsPlan {
  /** ACME account contact. */
  readonly email: string;
  /** The domain certificates are for; also the routing domain. */
  readonly domain: string;
  readonly directoryUrl: string;
  /** PEM file of extra roots for the ACME server's HTTPS. */
  readonly acmeCaCert: string | undefined;
  /** DNS-01 hook (wildcards per service); undefined: HTTP-01 per name, on demand. */
  readonly dnsHook: string | undefined;
  readonly dnsPropagationCheck: boolean;
  readonly httpsPort: number;
  readonly httpPort: number;
  /** Where the account key and certificates are kept (`{data_dir}/acme` by default). */
  readonly storeDir: string;
}

/** The TLS flags of `ten serve`. */
export interface TlsFlags {
  readonly tls?: boolean | undefined;
  readonly email?: string | undefined;
  readonly staging?: boolean | undefined;
  /** `--domain`, when given. */
  readonly domain?: string | undefined;
}

/**
 * The plan, or undefined when TLS is off (no `--tls` and `enabled = false`). Throws
 * InvalidInputError naming the flag or key to fix.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const settings = {
 *   enabled: false, acmeEmail: undefined, domain: undefined, cacheDir: "/data/acme",
 *   staging: false, httpsPort: 443, httpPort: 80, dnsProvider: undefined,
 *   acmeDirectory: undefined, acmeCaCert: undefined, dnsHook: undefined,
 *   dnsPropagationCheck: true,
 * };
 * equal(planTls(settings, {}), undefined);
 * const plan = planTls(settings, { tls: true, email: "ops@example.com", domain: "example.com" });
 * equal(plan?.directoryUrl, "https://acme-v02.api.letsencrypt.org/directory");
 * ```
 */
export function planTls(settings: TlsSettings, flags: TlsFlags): TlsPlan | undefined {
  const byFlag = flags.tls === true;
  if (!byFlag && !settings.enabled) {
    const stray = [flags.email !== undefined && "--email", flags.staging === true && "--staging"]
      .filter((flag) => typeof flag === "string");
    if (stray.length > 0) {
      throw new InvalidInputError(
        `${
          stray.join(" and ")
        } only apply with TLS: add --tls (or set "settings.tls.enabled = true")`,
        stray[0]!.slice(2),
      );
    }
    return undefined;
  }
  const email = flags.email ?? settings.acmeEmail;
  if (email === undefined) {
    throw new InvalidInputError(
      byFlag
        ? "TLS enabled but no email provided.\nUse --email <your@email.com> for Let's Encrypt registration."
        : 'TLS enabled in config but acme_email not set: add acme_email = "you@example.com" to [settings.tls] or pass --email',
      "email",
    );
  }
  const badEmail = emailProblem(email);
  if (badEmail !== undefined) throw new InvalidInputError(badEmail, "email");
  // `--tls` takes --domain first; TLS turned on in the config takes the config's domain first.
  const domain = (byFlag ? flags.domain ?? settings.domain : settings.domain ?? flags.domain) ??
    "localhost";
  const badDomain = tlsDomainProblem(domain);
  if (badDomain !== undefined) throw new InvalidInputError(badDomain, "domain");
  const staging = flags.staging === true || settings.staging;
  if (staging && settings.acmeDirectory !== undefined) {
    throw new InvalidInputError(
      `--staging and "settings.tls.acme_directory" both pick the ACME server: keep one`,
      "staging",
    );
  }
  return {
    email,
    domain: domain.toLowerCase().replace(/\.$/, ""),
    directoryUrl: settings.acmeDirectory ??
      (staging ? LETS_ENCRYPT_STAGING : LETS_ENCRYPT_PRODUCTION),
    acmeCaCert: settings.acmeCaCert,
    dnsHook: settings.dnsHook,
    dnsPropagationCheck: settings.dnsPropagationCheck,
    httpsPort: settings.httpsPort,
    httpPort: settings.httpPort,
    storeDir: settings.cacheDir,
  };
}
