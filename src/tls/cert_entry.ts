/**
 * The certificate manager's record of one certificate it serves or means to obtain, how it is
 * shown (`ten certs`), and the SNI index over all of them: every SAN of every certificate, looked
 * up exact name first, then the parent's wildcard. Pure: no I/O.
 * @module
 */
import { lookupNames } from "./cert_names.ts";
import type { IssuedCert } from "./cert_store.ts";
import type { CertStatus, ChallengeKind, KeyPair } from "./tls_types.ts";

/** One certificate: what is served, and the state of its next attempt. */
export interface CertEntry {
  readonly names: readonly string[];
  readonly challenge: ChallengeKind;
  cert: IssuedCert | undefined;
  /** The ACME directory that issued `cert`. */
  directoryUrl: string | undefined;
  lastError: string | undefined;
  lastErrorAtMs: number | undefined;
  /** Consecutive failed attempts. */
  failures: number;
  /** When the next attempt is due; undefined when none is planned. */
  nextAttemptMs: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** An order for it is running (the worker or a handshake): no second one is queued. */
  isBusy: boolean;
}

/** A fresh entry for `names` with nothing issued and nothing planned yet. */
export function newCertEntry(
  names: readonly string[],
  challenge: ChallengeKind,
  from: Partial<Pick<CertEntry, "cert" | "directoryUrl" | "lastError" | "lastErrorAtMs">> = {},
): CertEntry {
  return {
    names,
    challenge,
    cert: from.cert,
    directoryUrl: from.directoryUrl,
    lastError: from.lastError,
    lastErrorAtMs: from.lastErrorAtMs,
    failures: 0,
    nextAttemptMs: undefined,
    timer: undefined,
    isBusy: false,
  };
}

function isoOf(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** How `entry` is shown by `ten certs` and the API. */
export function certStatusOf(entry: CertEntry): CertStatus {
  return {
    names: [...entry.names],
    challenge: entry.challenge,
    issuer: entry.cert?.issuer,
    notBefore: isoOf(entry.cert?.notBeforeMs),
    notAfter: isoOf(entry.cert?.notAfterMs),
    nextAttempt: isoOf(entry.nextAttemptMs),
    lastError: entry.lastError,
    lastErrorAt: isoOf(entry.lastErrorAtMs),
  };
}

/** Every SAN of every issued certificate → its entry. */
export type CertIndex = ReadonlyMap<string, CertEntry>;

/**
 * Indexes every name of every issued certificate; when two cover one name (an exact one and a
 * planned wildcard's base), the one valid longer wins.
 */
export function buildCertIndex(entries: Iterable<CertEntry>): CertIndex {
  const index = new Map<string, CertEntry>();
  for (const entry of entries) {
    if (entry.cert === undefined) continue;
    for (const name of entry.cert.names) {
      const current = index.get(name)?.cert;
      if (current === undefined || current.notAfterMs < entry.cert.notAfterMs) {
        index.set(name, entry);
      }
    }
  }
  return index;
}

/**
 * The certificate to serve for a server name: exact name, then the parent's wildcard; a
 * handshake without a server name ("") gets the domain's certificate. An expired certificate is
 * never served: it is skipped (so a valid wildcard behind an expired exact one is served), and
 * when nothing valid is left the caller may obtain a new one.
 */
export function lookupCert(
  index: CertIndex,
  serverName: string,
  domain: string,
  nowMs: number,
): KeyPair | undefined {
  const names = serverName === "" ? [domain.toLowerCase()] : lookupNames(serverName);
  for (const name of names) {
    const cert = index.get(name)?.cert;
    if (cert !== undefined && cert.notAfterMs > nowMs) {
      return { cert: cert.certPem, key: cert.keyPem };
    }
  }
  return undefined;
}
