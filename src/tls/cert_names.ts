/**
 * Which names tenement may hold certificates for, judged from the config alone: the certificates
 * planned in DNS-hook mode, the lookup order for a handshake's server name, and the on-demand
 * judgement of HTTP-01 mode. Never more names than the config covers. Pure: no I/O.
 * @module
 */
import { normalizeHost, parseHostRoute } from "../core/host_route.ts";

/** Longest DNS name looked at (RFC 1035: at most 253 characters in text form). */
export const MAX_NAME_LENGTH = 253;

/** One certificate to obtain: its names, the primary (subject) name first. */
export interface PlannedCert {
  readonly names: readonly string[];
}

/**
 * The certificates of DNS-hook mode: per service `*.{service}.{domain}` with `{service}.{domain}`,
 * plus one for `{domain}` itself. Names are lower case; duplicate services count once; services
 * whose names are not DNS labels (`my_app`, `-x`) are left out, as no certificate authority
 * issues for them.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(plannedCerts("Example.test", ["notes", "Notes", "api", "my_app"]), [
 *   { names: ["example.test"] },
 *   { names: ["*.notes.example.test", "notes.example.test"] },
 *   { names: ["*.api.example.test", "api.example.test"] },
 * ]);
 * ```
 */
export function plannedCerts(domain: string, services: readonly string[]): PlannedCert[] {
  const base = normalizeHost(domain);
  if (base === "") return [];
  const plans: PlannedCert[] = [{ names: [base] }];
  const seen = new Set<string>();
  for (const raw of services) {
    const service = raw.toLowerCase();
    if (!isDnsLabel(service) || seen.has(service)) continue;
    seen.add(service);
    plans.push({ names: [`*.${service}.${base}`, `${service}.${base}`] });
  }
  return plans;
}

/**
 * The names to look a server name up by, in order: the exact name, then the wildcard of its
 * parent. An empty or malformed name has none.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(lookupNames("Alice.Notes.example.test"),
 *   ["alice.notes.example.test", "*.notes.example.test"]);
 * deepEqual(lookupNames("localhost"), ["localhost"]);
 * deepEqual(lookupNames(""), []);
 * ```
 */
export function lookupNames(serverName: string): string[] {
  const name = normalizeHost(serverName);
  if (name === "" || name.length > MAX_NAME_LENGTH || name.startsWith("*")) return [];
  const dot = name.indexOf(".");
  if (dot <= 0 || dot === name.length - 1) return [name];
  return [name, `*${name.slice(dot)}`];
}

/** A DNS host label as certificate authorities accept it (no underscore, no edge hyphen). */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * True when `label` (lower case) is a DNS host label a certificate authority accepts.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(isDnsLabel("notes"), true);
 * equal(isDnsLabel("my_app"), false);
 * equal(isDnsLabel("-x"), false);
 * ```
 */
export function isDnsLabel(label: string): boolean {
  return DNS_LABEL.test(label);
}

/** True for an IPv4 or bracketed/bare IPv6 literal (certificates by HTTP-01 are for DNS names). */
export function isIpLiteral(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":") || name.startsWith("[");
}

/** What on-demand issuance may ask about a name. */
export interface OnDemandPolicy {
  readonly domain: string;
  /** Configured service names (any case). */
  readonly services: readonly string[];
  /** Whether instance `id` of `service` may get a certificate (it exists, or is allow-listed). */
  readonly mayObtainCertificate: (service: string, id: string) => boolean;
}

/** The verdict on one server name: the name to obtain a certificate for, or why not. */
export type OnDemandVerdict =
  | { readonly kind: "allowed"; readonly name: string }
  | {
    readonly kind: "refused";
    readonly reason: string;
    /** True when the verdict may change later (an instance created since); false for names
     * tenement never holds a certificate for. */
    readonly mayChange: boolean;
  };

/**
 * Whether HTTP-01 mode may obtain a certificate for `serverName` on demand: only the domain,
 * `{service}.{domain}` of a configured service, or `{id}.{service}.{domain}` that
 * `mayObtainCertificate` allows. IPs, empty, overlong and foreign names are refused without
 * asking it.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const policy = { domain: "example.test", services: ["notes"], mayObtainCertificate: () => true };
 * deepEqual(judgeOnDemand("Notes.Example.test", policy),
 *   { kind: "allowed", name: "notes.example.test" });
 * deepEqual(judgeOnDemand("blog.example.test", policy).kind, "refused");
 * ```
 */
export function judgeOnDemand(serverName: string, policy: OnDemandPolicy): OnDemandVerdict {
  const refused = (reason: string): OnDemandVerdict => ({
    kind: "refused",
    reason,
    mayChange: false,
  });
  const name = normalizeHost(serverName);
  const base = normalizeHost(policy.domain);
  if (name === "") return refused("no server name");
  if (base === "") return refused("no domain configured");
  if (name.length > MAX_NAME_LENGTH) return refused(`longer than ${MAX_NAME_LENGTH} characters`);
  if (isIpLiteral(name)) return refused("an IP address");
  if (!name.split(".").every((label) => DNS_LABEL.test(label))) {
    return refused("not a valid DNS host name");
  }
  if (name === base) return { kind: "allowed", name };
  const route = parseHostRoute(name, base);
  if (route.kind === "builtin") return refused(`not under "${base}"`);
  if (route.kind === "invalid" || route.kind === "unknown") return refused(route.reason);
  const service = policy.services.find((s) => s.toLowerCase() === route.service);
  if (service === undefined) return refused(`no service "${route.service}" is configured`);
  if (route.kind === "weighted") return { kind: "allowed", name };
  if (policy.mayObtainCertificate(service, route.id)) return { kind: "allowed", name };
  return {
    kind: "refused",
    reason:
      `instance "${route.id}" of "${service}" does not exist (and auto_create_allow does not name it)`,
    mayChange: true,
  };
}
