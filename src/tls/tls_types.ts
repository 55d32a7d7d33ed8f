/**
 * The seams of built-in HTTPS: what the front asks for a handshake, what the plain-HTTP listener
 * asks for an ACME HTTP-01 challenge, and what `ten certs` shows. The certificate manager
 * (`cert_manager.ts`) implements the first two; the front (`proxy/tls_listener.ts`) and the
 * redirect listener (`proxy/redirect_server.ts`) depend only on this file.
 * @module
 */

/** A certificate to serve: the PEM chain (leaf first) and its PEM private key. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * Picks the certificate for a TLS handshake by its server name (SNI, lower case; "" when the
 * client sent none). It may take time (an on-demand certificate is obtained while the handshake
 * waits). Rejecting refuses the handshake. Deno caches the answer (and a rejection) per server
 * name for the listener's lifetime, so the front replaces its listener when certificates change.
 */
export interface SniResolver {
  resolve(serverName: string): Promise<KeyPair>;
}

/** Answers ACME HTTP-01 challenges (`/.well-known/acme-challenge/{token}`) from memory. */
export interface ChallengeResponder {
  /** The key authorization for `token`, or undefined when no challenge is pending for it. */
  keyAuthorization(token: string): string | undefined;
}

/** How a certificate's names are validated. */
export type ChallengeKind = "dns-01" | "http-01";

/** One certificate as `ten certs` and `GET /api/tls/certs` show it. */
export interface CertStatus {
  /** The names it covers (its subject alternative names), the primary one first. */
  readonly names: readonly string[];
  readonly challenge: ChallengeKind;
  /** Issuer common name; undefined while none has been issued. */
  readonly issuer: string | undefined;
  /** ISO 8601 instants; undefined while none has been issued. */
  readonly notBefore: string | undefined;
  readonly notAfter: string | undefined;
  /** When the next issuance or renewal attempt is due (ISO 8601); undefined when none is planned. */
  readonly nextAttempt: string | undefined;
  /** The last failed attempt's error and when it happened; undefined after a success. */
  readonly lastError: string | undefined;
  readonly lastErrorAt: string | undefined;
}
