/**
 * The Caddyfile `ten caddy` writes, for users who put Caddy in front of `ten serve` for HTTPS.
 * Pure: options in, text out.
 *
 * Every tenant has its own name (`{id}.{service}.{domain}`), two labels below the domain, which a
 * `*.{domain}` certificate does not cover. So each service gets a block for `{service}.{domain}`
 * and `*.{service}.{domain}`, and the certificates come either on demand (the default: one per
 * name at its first TLS handshake, by HTTP-01 or TLS-ALPN-01, after Caddy asks tenement whether
 * the name routes anywhere) or as one wildcard per service by DNS-01 (`dnsProvider`, which needs
 * a Caddy built with that provider's module).
 * @module
 */

/** What the Caddyfile is made from. */
export interface CaddyfileOptions {
  readonly domain: string;
  /** The port `ten serve` listens on, on 127.0.0.1. */
  readonly port: number;
  /** Service names of the config, in order. */
  readonly services: readonly string[];
  /** ACME account email, if any. */
  readonly email?: string | undefined;
  /** A caddy-dns provider name (e.g. `cloudflare`) for wildcard certificates by DNS-01. */
  readonly dnsProvider?: string | undefined;
}

/** Environment variable the DNS-01 blocks read the provider's API token from. */
export const DNS_TOKEN_ENV = "DNS_API_TOKEN";

/**
 * Renders the Caddyfile.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * const text = renderCaddyfile({ domain: "example.com", port: 8080, services: ["notes"] });
 * ok(text.includes("notes.example.com, *.notes.example.com {"));
 * ok(text.includes("ask http://127.0.0.1:8080/api/tls/ask"));
 * ```
 */
export function renderCaddyfile(options: CaddyfileOptions): string {
  const upstream = `127.0.0.1:${options.port}`;
  const isOnDemand = options.dnsProvider === undefined;
  const global: string[] = [];
  if (options.email !== undefined) global.push(`\temail ${options.email}`);
  if (isOnDemand) {
    global.push(
      "\t# Certificates per name on first use, only for names tenement routes (it answers the",
      "\t# ask), at most 10 new names a minute.",
      "\ton_demand_tls {",
      `\t\task http://${upstream}/api/tls/ask`,
      "\t\tinterval 1m",
      "\t\tburst 10",
      "\t}",
    );
  }
  const lines = [
    `# Caddy in front of tenement: HTTPS for ${options.domain} and every tenant below it.`,
    `# Written by ten caddy; tenement runs as: ten serve --port ${options.port} --bind 127.0.0.1 --domain ${options.domain}`,
    '# with [settings] trusted_proxies = ["127.0.0.1"] in tenement.toml, so it believes the client',
    "# address Caddy sends in X-Forwarded-For (failure limit, what tenants receive).",
  ];
  if (!isOnDemand) {
    lines.push(
      `# The service blocks use DNS-01 with the caddy-dns/${options.dnsProvider} module (not in stock`,
      `# Caddy builds) and read the provider's API token from $${DNS_TOKEN_ENV}; see that module's docs.`,
    );
  }
  if (global.length > 0) lines.push("{", ...global, "}");
  lines.push(
    "",
    "# The bare domain: tenement's API and landing page. The ask endpoint is for Caddy alone.",
    `${options.domain} {`,
    "\t@ask path /api/tls/ask",
    "\trespond @ask 404",
    `\treverse_proxy ${upstream}`,
    "}",
  );
  for (const service of options.services) {
    const tls = isOnDemand
      ? ["\ttls {", "\t\ton_demand", "\t}"]
      : ["\ttls {", `\t\tdns ${options.dnsProvider} {env.${DNS_TOKEN_ENV}}`, "\t}"];
    lines.push(
      "",
      `# ${service}: the weighted route and each tenant ({id}.${service}.${options.domain}).`,
      `${service}.${options.domain}, *.${service}.${options.domain} {`,
      ...tls,
      `\treverse_proxy ${upstream}`,
      "}",
    );
  }
  return `${lines.join("\n")}\n`;
}
