/**
 * Certificates and ACME account keys on disk, under the directory the daemon passes
 * (`{data_dir}/acme`): directories 0700, files 0600, each file written atomically.
 *
 * Layout: `accounts/{directory host+path}/account.key.pem`, and per certificate
 * `certs/{primary name, "*" as "_wildcard"}/` with `fullchain.pem`, `key.pem` and `meta.json`
 * (names, validity, issuer, issue time, the last error, and SHA-256 digests of the two PEM
 * files). A new certificate is written as `key.pem.next` and `fullchain.pem.next` first, then
 * meta.json with their digests (the commit), then the two are renamed into place; loading rolls
 * a committed but unrenamed pair forward, so a crash at any point leaves the old certificate or
 * the new one, never a torn entry. A damaged entry is returned as a problem and skipped, never
 * thrown and never deleted: a new certificate for its name sets it aside as
 * `certs/.damaged-{name}-{time}`.
 * @module
 */
import {
  assertNotSymlink,
  ensurePrivateDir,
  readTextIfExists,
  writePrivateFileAtomic,
} from "./atomic_file.ts";

/** A certificate with its key, as issued. */
export interface IssuedCert {
  /** Subject alternative names, the primary one first. */
  readonly names: readonly string[];
  /** PEM chain, leaf first. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** Issuer common name. */
  readonly issuer: string;
}

/** One certificate entry as stored: a certificate (once issued) and the last error. */
export interface StoredEntry {
  /** The names the entry is for, the primary one first. */
  readonly names: readonly string[];
  /** Undefined while no certificate has been issued (only a failure was recorded). */
  readonly cert: IssuedCert | undefined;
  readonly issuedAtMs: number | undefined;
  /** The ACME directory URL that issued it. */
  readonly directoryUrl: string | undefined;
  readonly lastError: string | undefined;
  readonly lastErrorAtMs: number | undefined;
  /** Consecutive failed attempts up to `lastError` (0 after a success). */
  readonly failures: number;
  /** When the attempt after `lastError` was due; undefined when none was planned. */
  readonly nextAttemptMs: number | undefined;
}

/** A failed attempt as recorded (kept across restarts, so backoff is too). */
export interface RecordedError {
  readonly message: string;
  readonly atMs: number;
  /** Consecutive failures, this one included. */
  readonly failures: number;
  readonly nextAttemptMs: number | undefined;
}

/** A damaged or unreadable entry that was skipped. */
export interface StoreProblem {
  readonly path: string;
  readonly reason: string;
}

/** What {@linkcode CertStore.loadAll} found. */
export interface LoadResult {
  readonly entries: StoredEntry[];
  readonly problems: StoreProblem[];
}

/** The stored form of meta.json. */
interface MetaV1 {
  v: 1;
  names: string[];
  notBefore?: string;
  notAfter?: string;
  issuer?: string;
  issuedAt?: string;
  directoryUrl?: string;
  fullchainSha256?: string;
  keySha256?: string;
  lastError?: string;
  lastErrorAt?: string;
  failures?: number;
  nextAttemptAt?: string;
}

/**
 * The file-system name of a certificate's directory: lower case, `*` as `_wildcard`, anything
 * but letters, digits, dots and hyphens as `_`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(certDirName("*.Notes.example.test"), "_wildcard.notes.example.test");
 * ```
 */
export function certDirName(primaryName: string): string {
  const name = primaryName.toLowerCase().replaceAll("*", "_wildcard").replace(/[^a-z0-9._-]/g, "_");
  return name.replace(/^\.+/, "_") || "_";
}

/**
 * The file-system name of an ACME directory's account: its URL's host and path.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(accountDirName("https://acme-v02.api.letsencrypt.org/directory"),
 *   "acme-v02.api.letsencrypt.org_directory");
 * equal(accountDirName("https://127.0.0.1:14000/dir"), "127.0.0.1_14000_dir");
 * ```
 */
export function accountDirName(directoryUrl: string): string {
  let hostAndPath: string;
  try {
    const url = new URL(directoryUrl);
    hostAndPath = `${url.host}${url.pathname}`;
  } catch {
    hostAndPath = directoryUrl;
  }
  const name = hostAndPath.toLowerCase().replace(/[^a-z0-9.-]+/g, "_").replace(/^[._]+|_+$/g, "");
  return name || "_";
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

function msOf(iso: string | undefined, field: string): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) {
    throw new Error(`meta.json: ${field} is not a date: ${JSON.stringify(iso)}`);
  }
  return ms;
}

function parseMeta(text: string): MetaV1 {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== "object" || raw === null) throw new Error("meta.json: not an object");
  const meta = raw as Record<string, unknown>;
  if (meta["v"] !== 1) throw new Error(`meta.json: unknown version ${JSON.stringify(meta["v"])}`);
  const names = meta["names"];
  if (
    !Array.isArray(names) || names.length === 0 ||
    !names.every((n): n is string => typeof n === "string" && n !== "")
  ) {
    throw new Error("meta.json: names must be a non-empty list of names");
  }
  const out: MetaV1 = { v: 1, names };
  for (
    const key of [
      "notBefore",
      "notAfter",
      "issuer",
      "issuedAt",
      "directoryUrl",
      "fullchainSha256",
      "keySha256",
      "lastError",
      "lastErrorAt",
      "nextAttemptAt",
    ] as const
  ) {
    const value = meta[key];
    if (value === undefined) continue;
    if (typeof value !== "string") throw new Error(`meta.json: ${key} must be a string`);
    out[key] = value;
  }
  const failures = meta["failures"];
  if (failures !== undefined) {
    if (typeof failures !== "number" || !Number.isSafeInteger(failures) || failures < 0) {
      throw new Error("meta.json: failures must be a count");
    }
    out.failures = failures;
  }
  return out;
}

/** The certificate store under one directory. */
export class CertStore {
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens (creating with mode 0700) the store under `dir`. */
  static async open(dir: string): Promise<CertStore> {
    await ensurePrivateDir(dir, { isSymlinkAllowed: true });
    await ensurePrivateDir(`${dir}/certs`);
    await ensurePrivateDir(`${dir}/accounts`);
    return new CertStore(dir);
  }

  /** The store's directory. */
  get dir(): string {
    return this.#dir;
  }

  /** The directory of the entry whose primary name is `primaryName`. */
  entryDir(primaryName: string): string {
    return `${this.#dir}/certs/${certDirName(primaryName)}`;
  }

  /** The stored account key (PEM) for an ACME directory, or undefined. */
  async loadAccountKey(directoryUrl: string): Promise<string | undefined> {
    return await readTextIfExists(this.#accountKeyPath(directoryUrl));
  }

  /** Stores the account key (PEM) for an ACME directory. */
  async saveAccountKey(directoryUrl: string, keyPem: string): Promise<void> {
    const path = this.#accountKeyPath(directoryUrl);
    await ensurePrivateDir(path.slice(0, path.lastIndexOf("/")));
    await writePrivateFileAtomic(path, keyPem);
  }

  #accountKeyPath(directoryUrl: string): string {
    return `${this.#dir}/accounts/${accountDirName(directoryUrl)}/account.key.pem`;
  }

  /** Reads every entry; damaged ones are returned as problems, never thrown. */
  async loadAll(): Promise<LoadResult> {
    const entries: StoredEntry[] = [];
    const problems: StoreProblem[] = [];
    const certsDir = `${this.#dir}/certs`;
    for await (const item of Deno.readDir(certsDir)) {
      if (!item.isDirectory || item.name.startsWith(".")) continue;
      const path = `${certsDir}/${item.name}`;
      try {
        const entry = await this.#loadEntry(path);
        if (entry !== undefined) entries.push(entry);
      } catch (err: unknown) {
        problems.push({ path, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    entries.sort((a, b) => a.names[0]! < b.names[0]! ? -1 : a.names[0]! > b.names[0]! ? 1 : 0);
    return { entries, problems };
  }

  async #loadEntry(path: string): Promise<StoredEntry | undefined> {
    const metaText = await readTextIfExists(`${path}/meta.json`);
    if (metaText === undefined) throw new Error("meta.json is missing (partial entry)");
    const meta = parseMeta(metaText);
    const common = {
      names: meta.names,
      issuedAtMs: msOf(meta.issuedAt, "issuedAt"),
      directoryUrl: meta.directoryUrl,
      lastError: meta.lastError,
      lastErrorAtMs: msOf(meta.lastErrorAt, "lastErrorAt"),
      failures: meta.lastError === undefined ? 0 : meta.failures ?? 1,
      nextAttemptMs: msOf(meta.nextAttemptAt, "nextAttemptAt"),
    };
    if (meta.fullchainSha256 === undefined) return { ...common, cert: undefined };
    const { certPem, keyPem } = await this.#readPair(path, meta);
    if (!certPem.includes("-----BEGIN CERTIFICATE-----") || !keyPem.includes("PRIVATE KEY-----")) {
      throw new Error("fullchain.pem or key.pem is not PEM");
    }
    const notBeforeMs = msOf(meta.notBefore, "notBefore");
    const notAfterMs = msOf(meta.notAfter, "notAfter");
    if (notBeforeMs === undefined || notAfterMs === undefined) {
      throw new Error("meta.json: notBefore or notAfter is missing");
    }
    return {
      ...common,
      cert: {
        names: meta.names,
        certPem,
        keyPem,
        notBeforeMs,
        notAfterMs,
        issuer: meta.issuer ?? "",
      },
    };
  }

  /**
   * The entry's PEM pair matching meta.json's digests: per file, `fullchain.pem` / `key.pem`, or
   * the `.next` one a crash left committed but not yet renamed (then renamed into place now).
   */
  async #readPair(path: string, meta: MetaV1): Promise<{ certPem: string; keyPem: string }> {
    const certPem = await this.#readCommitted(path, "fullchain.pem", meta.fullchainSha256);
    const keyPem = await this.#readCommitted(path, "key.pem", meta.keySha256);
    return { certPem, keyPem };
  }

  async #readCommitted(path: string, name: string, digest: string | undefined): Promise<string> {
    const current = await readTextIfExists(`${path}/${name}`);
    if (current !== undefined && await sha256Hex(current) === digest) return current;
    const next = await readTextIfExists(`${path}/${name}.next`);
    if (next !== undefined && await sha256Hex(next) === digest) {
      await assertNotSymlink(`${path}/${name}`);
      await Deno.rename(`${path}/${name}.next`, `${path}/${name}`);
      return next;
    }
    if (current === undefined) throw new Error(`${name} is missing (partial entry)`);
    throw new Error(`${name} does not match meta.json (torn or edited entry)`);
  }

  async #promoteNext(path: string): Promise<void> {
    for (const name of ["key.pem", "fullchain.pem"]) {
      await assertNotSymlink(`${path}/${name}`);
      await Deno.rename(`${path}/${name}.next`, `${path}/${name}`).catch((err: unknown) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
    }
  }

  /** Stores a newly issued certificate (replacing the entry of its primary name). */
  async saveCert(
    cert: IssuedCert,
    info: { issuedAtMs: number; directoryUrl: string },
  ): Promise<void> {
    const path = this.entryDir(cert.names[0]!);
    await assertNotSymlink(path);
    await this.#setAsideIfDamaged(path, info.issuedAtMs);
    await ensurePrivateDir(path);
    await writePrivateFileAtomic(`${path}/key.pem.next`, cert.keyPem);
    await writePrivateFileAtomic(`${path}/fullchain.pem.next`, cert.certPem);
    const meta: MetaV1 = {
      v: 1,
      names: [...cert.names],
      notBefore: isoOf(cert.notBeforeMs),
      notAfter: isoOf(cert.notAfterMs),
      issuer: cert.issuer,
      issuedAt: isoOf(info.issuedAtMs),
      directoryUrl: info.directoryUrl,
      fullchainSha256: await sha256Hex(cert.certPem),
      keySha256: await sha256Hex(cert.keyPem),
    };
    // meta.json commits the new pair by its digests; until then the old pair stays valid.
    await writePrivateFileAtomic(`${path}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
    await this.#promoteNext(path);
  }

  /**
   * Moves a damaged entry out of the way (to `certs/.damaged-{name}-{time}`, which loading skips)
   * before a new certificate takes its place, so nothing is deleted.
   */
  async #setAsideIfDamaged(path: string, nowMs: number): Promise<void> {
    try {
      await Deno.stat(path);
    } catch {
      return;
    }
    try {
      await this.#loadEntry(path);
    } catch {
      const base = path.slice(path.lastIndexOf("/") + 1);
      await Deno.rename(path, `${this.#dir}/certs/.damaged-${base}-${nowMs}`);
    }
  }

  /**
   * Records a failed attempt for `names` in the entry's meta.json (kept with its certificate, if
   * any), with the failure count and the next attempt, so the error and the backoff survive a
   * restart. A damaged meta.json is left alone.
   */
  async saveError(names: readonly string[], error: RecordedError): Promise<void> {
    const path = this.entryDir(names[0]!);
    await ensurePrivateDir(path);
    const text = await readTextIfExists(`${path}/meta.json`);
    let meta: MetaV1 = { v: 1, names: [...names] };
    if (text !== undefined) {
      try {
        meta = parseMeta(text);
      } catch {
        return;
      }
    }
    meta.lastError = error.message;
    meta.lastErrorAt = isoOf(error.atMs);
    meta.failures = error.failures;
    if (error.nextAttemptMs === undefined) delete meta.nextAttemptAt;
    else meta.nextAttemptAt = isoOf(error.nextAttemptMs);
    await writePrivateFileAtomic(`${path}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
  }

  /**
   * Removes the entry of `primaryName` when it holds no certificate (only a recorded error), so
   * a name given up on leaves nothing behind. An entry with a certificate is kept.
   */
  async forgetIfEmpty(primaryName: string): Promise<void> {
    const path = this.entryDir(primaryName);
    const text = await readTextIfExists(`${path}/meta.json`);
    if (text === undefined) return;
    if (parseMeta(text).fullchainSha256 !== undefined) return;
    await Deno.remove(path, { recursive: true });
  }
}
