/**
 * `ten certs [--json]`: built-in TLS's certificates: names, issuer, expiry, the next renewal
 * attempt and the last error.
 * @module
 */
import type { CertJson } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { alignColumns, out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** `ten certs`. */
export async function certsVerb(
  options: { json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const client = await clientFor(globals);
  const answer = await client.certs();
  if (options.json) {
    out.json(answer);
    return 0;
  }
  if (!answer.enabled) {
    out.line(
      `Built-in TLS is off on ${client.server} (ten serve --tls, or [settings.tls] enabled = true)`,
    );
    return 0;
  }
  if (answer.certificates.length === 0) {
    out.line(`No certificates yet for ${answer.domain} (from ${answer.directory})`);
    return 0;
  }
  for (const line of certsTable(answer.certificates, Date.now())) out.line(line);
  return 0;
}

/**
 * The table `ten certs` prints, one row per certificate, then its last error when it has one.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const lines = certsTable([{
 *   names: ["*.notes.example.com", "notes.example.com"], challenge: "dns-01", issuer: "R11",
 *   not_before: "2026-11-01T00:00:00.000Z", not_after: "2027-01-30T00:00:00.000Z",
 *   next_attempt: "2026-12-31T00:00:00.000Z", last_error: null, last_error_at: null,
 * }], Date.parse("2026-11-29T00:00:00Z"));
 * equal(lines[1], "*.notes.example.com,notes.example.com dns-01    R11    2027-01-30 00:00 (62 days) 2026-12-31 00:00");
 * ```
 */
export function certsTable(certs: readonly CertJson[], nowMs: number): string[] {
  const rows = [["NAMES", "CHALLENGE", "ISSUER", "NOT AFTER", "NEXT RENEWAL"]];
  const errors = new Map<number, string>();
  certs.forEach((cert, index) => {
    rows.push([
      cert.names.join(","),
      cert.challenge,
      cert.issuer ?? "-",
      cert.not_after === null
        ? "(none yet)"
        : `${when(cert.not_after)} (${daysLeft(cert.not_after, nowMs)})`,
      cert.next_attempt === null ? "-" : when(cert.next_attempt),
    ]);
    if (cert.last_error !== null) {
      const at = cert.last_error_at === null ? "" : ` at ${when(cert.last_error_at)}`;
      errors.set(index + 1, `  last error${at}: ${cert.last_error}`);
    }
  });
  return alignColumns(rows).flatMap((line, index) => {
    const error = errors.get(index);
    return error === undefined ? [line] : [line, error];
  });
}

/** `2027-01-30 00:00` in UTC. */
function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

function daysLeft(iso: string, nowMs: number): string {
  const days = Math.floor((Date.parse(iso) - nowMs) / 86_400_000);
  return days < 0 ? "EXPIRED" : days === 1 ? "1 day" : `${days} days`;
}
