/**
 * Decides from a Host header whether a request goes to an instance (direct route), to a service
 * (weighted route), or to tenement's own routes. Pure: no I/O.
 * @module
 */
import { isValidName, nameProblem } from "./instance_key.ts";

/** Where a request goes, judged by its Host header alone. */
export type HostRoute =
  | { readonly kind: "direct"; readonly service: string; readonly id: string }
  | { readonly kind: "weighted"; readonly service: string }
  | { readonly kind: "builtin" }
  | { readonly kind: "invalid"; readonly reason: string }
  /**
   * Well-formed labels that no service or instance can have (one starts with `-` or `_`): answered
   * as an unknown instance, never looked up or created.
   */
  | { readonly kind: "unknown"; readonly reason: string };

/**
 * Normalises a Host header value: lower case, port and trailing dot removed. IPv6 literals in
 * brackets keep their brackets.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(":");
  if (colon >= 0) h = h.slice(0, colon);
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

/**
 * Routes a Host header for `domain`: `{id}.{service}.{domain}` is direct, `{service}.{domain}`
 * is weighted, anything else (the bare domain, an IP, a foreign name) is tenement's own.
 * A name under the domain whose labels are not valid service names or ids is invalid, or unknown
 * when they only start with `-` or `_`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(parseHostRoute("Alice.Notes.localhost:8080", "localhost"),
 *   { kind: "direct", service: "notes", id: "alice" });
 * deepEqual(parseHostRoute("notes.localhost", "localhost"), { kind: "weighted", service: "notes" });
 * deepEqual(parseHostRoute("127.0.0.1:8080", "localhost"), { kind: "builtin" });
 * ```
 */
export function parseHostRoute(host: string | null, domain: string): HostRoute {
  if (host === null || host === "") return { kind: "builtin" };
  const name = normalizeHost(host);
  const base = normalizeHost(domain);
  if (name === base || !name.endsWith(`.${base}`)) return { kind: "builtin" };
  const rest = name.slice(0, name.length - base.length - 1);
  const labels = rest.split(".");
  if (labels.length > 2) {
    return { kind: "invalid", reason: `too many labels before "${base}" (expected id.service)` };
  }
  for (const label of labels) {
    if (isValidName(label)) continue;
    const problem = nameProblem(label);
    if (problem?.startsWith("starts with") === true) {
      return { kind: "unknown", reason: `"${label}" ${problem}` };
    }
    return { kind: "invalid", reason: `"${label}" is not a valid service name or id` };
  }
  if (labels.length === 1) return { kind: "weighted", service: labels[0]! };
  return { kind: "direct", service: labels[1]!, id: labels[0]! };
}
