/**
 * `GET /api/tls/certs` (admin): built-in TLS's certificates, for `ten certs` and monitoring.
 * @module
 */
import type { CertificateSource } from "../api_ports.ts";
import type { Identity } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { CertJson, CertsResponse } from "../wire.ts";
import type { CertStatus } from "../../tls/tls_types.ts";

/** The path of the route. */
export const TLS_CERTS_PATH = "/api/tls/certs";

/** The answer for `identity`; `source` is undefined when TLS is off. */
export function certsResponse(
  identity: Identity,
  source: CertificateSource | undefined,
): Response {
  if (identity.kind !== "admin") {
    throw new HttpError(403, "Listing certificates requires admin token");
  }
  const body: CertsResponse = source === undefined
    ? { enabled: false, domain: null, directory: null, certificates: [] }
    : {
      enabled: true,
      domain: source.domain,
      directory: source.directoryUrl,
      certificates: source.status().map(certJson),
    };
  return jsonResponse(body);
}

function certJson(cert: CertStatus): CertJson {
  return {
    names: cert.names,
    challenge: cert.challenge,
    issuer: cert.issuer ?? null,
    not_before: cert.notBefore ?? null,
    not_after: cert.notAfter ?? null,
    next_attempt: cert.nextAttempt ?? null,
    last_error: cert.lastError ?? null,
    last_error_at: cert.lastErrorAt ?? null,
  };
}
