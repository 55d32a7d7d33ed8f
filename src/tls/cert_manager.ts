/**
 * Built-in HTTPS's certificate manager: serves every certificate on disk by SNI, obtains the
 * missing ones (DNS-01 through a hook for the planned wildcards, or HTTP-01 on demand while a
 * handshake waits), renews each at two thirds of its lifetime with backoff on errors, and keeps
 * serving the old certificate meanwhile. It issues only for names the config covers
 * (`cert_names.ts`), and tells the front when certificates changed, because Deno caches a
 * resolver's answer per server name for a listener's lifetime.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  type AcmeIssuer,
  type ChallengeSolver,
  createAcmeIssuer,
  type SolverChallenge,
} from "./acme_issuer.ts";
import {
  buildCertIndex,
  type CertEntry,
  type CertIndex,
  certStatusOf,
  lookupCert,
  newCertEntry,
} from "./cert_entry.ts";
import { isDnsLabel, judgeOnDemand, plannedCerts } from "./cert_names.ts";
import { CertStore, type IssuedCert, type StoredEntry } from "./cert_store.ts";
import { createDnsHookSolver } from "./dns_hook.ts";
import { Semaphore } from "../core/semaphore.ts";
import { renewalDueMs, retryAtMs } from "./renewal.ts";
import type {
  CertStatus,
  ChallengeKind,
  ChallengeResponder,
  KeyPair,
  SniResolver,
} from "./tls_types.ts";

const log = getLogger(["tenement", "tls"]);

/** Longest a timer is set for; a longer wait re-arms (setTimeout overflows past ~24.8 days). */
const MAX_TIMER_MS = 24 * 3_600_000;

/** The window of the on-demand budget. */
const ON_DEMAND_WINDOW_MS = 3_600_000;

/** First pause before saving again a certificate that could not be saved (doubling, to 1 h). */
const SAVE_RETRY_MS = 30_000;

/** DNS-01 order bounds per name: the set and unset hook runs, validation, and a margin. */
const HOOK_TIMEOUT_MS = 60_000;
const PROPAGATION_TIMEOUT_MS = 120_000;
const VALIDATION_MS = 60_000;

/**
 * How long one order may take: 3 minutes for HTTP-01; for DNS-01, per name (authorizations are
 * validated one after another) two hook runs, the propagation wait and validation, plus a minute,
 * so the hook's and the propagation check's own bounds are reached first.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const wildcard = { names: ["*.notes.example.com", "notes.example.com"], challenge: "dns-01" } as const;
 * equal(defaultOrderTimeoutMs(wildcard, true), 60_000 + 2 * (120_000 + 120_000 + 60_000));
 * equal(defaultOrderTimeoutMs({ names: ["a.example.com"], challenge: "http-01" }, true), 180_000);
 * ```
 */
export function defaultOrderTimeoutMs(
  entry: Pick<CertEntry, "names" | "challenge">,
  isPropagationChecked: boolean,
): number {
  if (entry.challenge === "http-01") return 180_000;
  const propagationMs = isPropagationChecked ? PROPAGATION_TIMEOUT_MS : 0;
  return 60_000 + entry.names.length * (2 * HOOK_TIMEOUT_MS + propagationMs + VALIDATION_MS);
}

/**
 * Why a handshake got no certificate. `mayChange` is true when asking again later may succeed
 * (a backoff, the on-demand budget, an instance that does not exist yet, an order still
 * running or failed), false for names tenement never holds certificates for (foreign, invalid,
 * an IP), so the front refreshes its cached refusals only for the former.
 */
export class NoCertificateError extends Error {
  readonly mayChange: boolean;
  constructor(message: string, mayChange: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = "NoCertificateError";
    this.mayChange = mayChange;
  }
}

/** Options of {@linkcode CertManager.open}. */
export interface CertManagerOptions {
  /** Where certificates and account keys live (the daemon passes `{data_dir}/acme`). */
  readonly storeDir: string;
  /** The ACME directory URL (Let's Encrypt, its staging, or a test server). */
  readonly directoryUrl: string;
  /** Contact address for the ACME account. */
  readonly email?: string;
  /** Extra PEM roots to trust for the ACME server's own HTTPS (`acme_ca_cert`). */
  readonly acmeCaPem?: string;
  /** The base domain: tenants are `{id}.{service}.{domain}`. */
  readonly domain: string;
  /** The configured service names, read again at each `replan()` and on-demand judgement. */
  readonly services: () => readonly string[];
  /** DNS-01 mode: the hook executable. Without it, HTTP-01 on demand. */
  readonly dnsHook?: string;
  /** DNS-01: wait until the TXT record resolves before validation. @default {true} */
  readonly isPropagationChecked?: boolean;
  /**
   * HTTP-01: whether instance `id` of `service` may get a certificate: it exists, or its id is
   * on the service's `auto_create_allow` (the supervisor's `mayObtainCertificate`).
   */
  readonly mayObtainCertificate: (service: string, id: string) => boolean;
  /** Called after each new certificate (the front then replaces its TLS listener). */
  readonly onCertificatesChanged?: () => void;
  /** The wall clock in epoch ms. @default {Date.now} */
  readonly now?: () => number;
  /**
   * Longest one ACME order may take. @default {180_000 for HTTP-01; for DNS-01, per name two
   * hook runs, the propagation wait and validation, plus a minute}
   */
  readonly orderTimeoutMs?: number;
  /**
   * Longest a handshake waits for an on-demand certificate (the order itself goes on, up to
   * `orderTimeoutMs`, and serves later handshakes). Below the front's 30 s head timeout.
   * @default {25_000}
   */
  readonly onDemandTimeoutMs?: number;
  /** Orders running at the same time. @default {2} */
  readonly maxConcurrentOrders?: number;
  /**
   * HTTP-01: most new names ordered on demand per hour, a backstop against a flood of handshakes
   * for names the gate allows. @default {30}
   */
  readonly onDemandPerHour?: number;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isoOf(ms: number | undefined): string {
  return ms === undefined ? "not planned" : new Date(ms).toISOString();
}

/** Obtains, stores, renews and serves certificates; dispose stops its work. */
export class CertManager implements SniResolver, ChallengeResponder, AsyncDisposable {
  readonly #options: CertManagerOptions;
  readonly #store: CertStore;
  readonly #issuer: AcmeIssuer;
  readonly #now: () => number;
  readonly #http01 = new Map<string, string>();
  readonly #httpSolver: ChallengeSolver;
  readonly #dnsSolver: ChallengeSolver | undefined;
  readonly #slots: Semaphore;
  readonly #life = new AbortController();
  /** By primary name. */
  readonly #entries = new Map<string, CertEntry>();
  /** Every SAN of every certificate (exact and wildcard names) → its entry. */
  #index: CertIndex = new Map();
  /** Entries waiting for the background worker, in order. */
  readonly #queue: CertEntry[] = [];
  #worker: Promise<void> | undefined;
  readonly #onDemand = new Map<string, Promise<KeyPair>>();
  /** When the on-demand orders for new names of the last hour started. */
  #onDemandStartsMs: number[] = [];
  #isBudgetWarned = false;
  /** Timers retrying the save of certificates served from memory only. */
  readonly #saveTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Services already warned about as not usable in a DNS name. */
  readonly #warnedServices = new Set<string>();

  private constructor(options: CertManagerOptions, store: CertStore) {
    this.#options = options;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#issuer = createAcmeIssuer({
      directoryUrl: options.directoryUrl,
      accounts: store,
      ...(options.email === undefined ? {} : { email: options.email }),
      ...(options.acmeCaPem === undefined ? {} : { caPem: options.acmeCaPem }),
    });
    this.#slots = new Semaphore(options.maxConcurrentOrders ?? 2);
    const http01 = this.#http01;
    this.#httpSolver = {
      kind: "http-01",
      present: (c: SolverChallenge) =>
        Promise.resolve(void http01.set(c.token, c.keyAuthorization)),
      cleanup: (c: SolverChallenge) => Promise.resolve(void http01.delete(c.token)),
    };
    this.#dnsSolver = options.dnsHook === undefined ? undefined : createDnsHookSolver({
      hookPath: options.dnsHook,
      isPropagationChecked: options.isPropagationChecked ?? true,
    });
  }

  /**
   * Opens the store, serves every certificate on disk at once (a restart re-issues nothing
   * valid, and serves while the ACME server is down), schedules renewals and, in DNS-01 mode,
   * starts obtaining the missing planned certificates in the background, one at a time.
   */
  static async open(options: CertManagerOptions): Promise<CertManager> {
    const store = await CertStore.open(options.storeDir);
    const manager = new CertManager(options, store);
    const { entries, problems } = await store.loadAll();
    for (const problem of problems) {
      log.error("Skipped the damaged certificate entry {path}: {reason}", { ...problem });
    }
    for (const stored of entries) manager.#adopt(stored);
    manager.#reindex();
    log.info("Loaded {count} certificate(s) from {dir}", {
      count: entries.filter((e) => e.cert !== undefined).length,
      dir: options.storeDir,
    });
    manager.replan();
    return manager;
  }

  /** The challenge kind this manager obtains new certificates with. */
  get mode(): ChallengeKind {
    return this.#dnsSolver === undefined ? "http-01" : "dns-01";
  }

  #adopt(stored: StoredEntry): void {
    const isWildcard = stored.names.some((n) => n.startsWith("*."));
    const challenge = isWildcard || this.mode === "dns-01" ? "dns-01" : "http-01";
    const entry = newCertEntry(stored.names, challenge, stored);
    // The backoff survives a restart: a restart loop does not place one order per restart.
    if (stored.failures > 0) {
      entry.failures = stored.failures;
      entry.nextAttemptMs = stored.nextAttemptMs ??
        retryAtMs(stored.lastErrorAtMs ?? this.#now(), stored.failures, stored.cert);
    }
    this.#entries.set(stored.names[0]!, entry);
  }

  /**
   * True while the config still covers every name of `entry`. `isInstanceAsked` also asks
   * `mayObtainCertificate` about instance names (right before an order); otherwise instance
   * names pass when their service is configured.
   */
  #isCovered(entry: CertEntry, isInstanceAsked: boolean): boolean {
    if (entry.challenge === "dns-01") {
      if (this.#dnsSolver === undefined) return false;
      const plans = plannedCerts(this.#options.domain, this.#options.services());
      return plans.some((p) => p.names.join(",") === entry.names.join(","));
    }
    const policy = {
      domain: this.#options.domain,
      services: this.#options.services(),
      mayObtainCertificate: isInstanceAsked ? this.#options.mayObtainCertificate : () => true,
    };
    return entry.names.every((n) => judgeOnDemand(n, policy).kind === "allowed");
  }

  /**
   * Re-reads the services (after a config reload): in DNS-01 mode obtains the certificates of new
   * services; certificates the config no longer covers keep being served but are not renewed.
   */
  replan(): void {
    if (this.#life.signal.aborted) return;
    for (const service of this.#options.services()) {
      const name = service.toLowerCase();
      if (isDnsLabel(name) || this.#warnedServices.has(name)) continue;
      this.#warnedServices.add(name);
      log.warn(
        "Service {service} gets no certificate: its name is not a DNS label (letters, digits and inner hyphens only), so no certificate authority issues for {service}.{domain}",
        { service, domain: this.#options.domain },
      );
    }
    if (this.#dnsSolver !== undefined) {
      for (const plan of plannedCerts(this.#options.domain, this.#options.services())) {
        if (this.#entries.has(plan.names[0]!)) continue;
        this.#entries.set(plan.names[0]!, newCertEntry(plan.names, "dns-01"));
      }
    }
    for (const entry of this.#entries.values()) this.#schedule(entry);
  }

  /** Sets `entry`'s timer for its next attempt (renewal or retry), or clears it. */
  #schedule(entry: CertEntry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.isBusy) return; // rescheduled when its order ends
    if (this.#life.signal.aborted || !this.#isCovered(entry, false)) {
      entry.nextAttemptMs = undefined;
      return;
    }
    const nowMs = this.#now();
    if (entry.failures === 0) {
      const isOtherCa = entry.cert !== undefined &&
        entry.directoryUrl !== this.#options.directoryUrl;
      entry.nextAttemptMs = entry.cert === undefined || isOtherCa
        ? nowMs
        : renewalDueMs(entry.cert);
    }
    // HTTP-01 names without a certificate are obtained when a handshake asks (after the backoff
    // of a failure), not in advance.
    if (entry.cert === undefined && entry.challenge === "http-01") {
      if (entry.failures === 0) entry.nextAttemptMs = undefined;
      return;
    }
    const waitMs = Math.max(0, (entry.nextAttemptMs ?? nowMs) - nowMs);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (waitMs > MAX_TIMER_MS) this.#schedule(entry);
      else this.#enqueue(entry);
    }, Math.min(waitMs, MAX_TIMER_MS));
  }

  #enqueue(entry: CertEntry): void {
    if (this.#life.signal.aborted || entry.isBusy || this.#queue.includes(entry)) return;
    this.#queue.push(entry);
    if (this.#worker === undefined) {
      this.#worker = this.#drain().finally(() => this.#worker = undefined);
    }
  }

  /** The background worker: obtains queued certificates one at a time. */
  async #drain(): Promise<void> {
    for (;;) {
      const entry = this.#queue.shift();
      if (entry === undefined || this.#life.signal.aborted) return;
      if (!this.#isCovered(entry, true)) {
        await this.#skip(entry);
        continue;
      }
      await this.#obtain(entry).catch(() => {});
    }
  }

  /**
   * A due attempt the gate refuses right now (an instance removed, maybe to come back): a name
   * never issued is forgotten; a served certificate is looked at again later, with backoff.
   */
  async #skip(entry: CertEntry): Promise<void> {
    if (entry.cert === undefined && entry.challenge === "http-01") {
      await this.#forget(entry, "the config no longer covers it");
      return;
    }
    entry.failures++;
    entry.nextAttemptMs = retryAtMs(this.#now(), entry.failures, entry.cert);
    log.info(
      "Not renewing the certificate for {names} now: the config does not cover it (looking again at {next})",
      { names: entry.names.join(", "), next: isoOf(entry.nextAttemptMs) },
    );
    this.#schedule(entry);
  }

  /** Drops a never-issued entry from memory and disk: nothing of it stays planned. */
  async #forget(entry: CertEntry, reason: string): Promise<void> {
    const primary = entry.names[0]!;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.nextAttemptMs = undefined;
    if (this.#entries.get(primary) === entry) this.#entries.delete(primary);
    log.info("Gave up on a certificate for {names}: {reason}", {
      names: entry.names.join(", "),
      reason,
    });
    await this.#store.forgetIfEmpty(primary).catch((err: unknown) => {
      log.error("Could not remove the entry of {primary}: {err}", { primary, err: messageOf(err) });
    });
  }

  #orderTimeoutMsOf(entry: CertEntry): number {
    return this.#options.orderTimeoutMs ??
      defaultOrderTimeoutMs(entry, this.#options.isPropagationChecked ?? true);
  }

  /**
   * Runs one order for `entry` within `timeoutMs`; on success stores and serves the certificate
   * and schedules its renewal, on failure records the error and schedules a retry with backoff.
   * Rejects with the failure.
   */
  async #obtain(entry: CertEntry): Promise<IssuedCert> {
    const timeoutMs = this.#orderTimeoutMsOf(entry);
    const solver = entry.challenge === "dns-01" ? this.#dnsSolver : this.#httpSolver;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`the order took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    const signal = AbortSignal.any([this.#life.signal, controller.signal]);
    const primary = entry.names[0]!;
    entry.isBusy = true;
    try {
      if (solver === undefined) throw new Error("DNS-01 needs a DNS hook (dns_hook)");
      using _slot = await this.#slots.acquire(signal);
      log.info("Obtaining a certificate for {names} ({kind})", {
        names: entry.names.join(", "),
        kind: solver.kind,
      });
      const startedMs = performance.now();
      const cert = await this.#issuer.issue(entry.names, solver, signal);
      const issuedAtMs = this.#now();
      entry.cert = cert;
      entry.directoryUrl = this.#options.directoryUrl;
      entry.failures = 0;
      entry.lastError = undefined;
      entry.lastErrorAtMs = undefined;
      entry.isBusy = false;
      this.#reindex();
      this.#schedule(entry);
      log.info(
        "Obtained a certificate for {names} from {issuer}, valid until {notAfter} ({ms} ms)",
        {
          names: entry.names.join(", "),
          issuer: cert.issuer,
          notAfter: new Date(cert.notAfterMs).toISOString(),
          ms: Math.round(performance.now() - startedMs),
        },
      );
      this.#notifyChanged();
      // Served from memory first: a certificate that cannot be saved (a full disk) is kept and
      // only its save retried, never thrown away and ordered again.
      await this.#save(cert, { issuedAtMs, directoryUrl: this.#options.directoryUrl });
      return cert;
    } catch (err: unknown) {
      if (this.#life.signal.aborted) throw err;
      const message = messageOf(err);
      const nowMs = this.#now();
      entry.isBusy = false;
      if (
        entry.cert === undefined && entry.challenge === "http-01" && !this.#isCovered(entry, true)
      ) {
        await this.#forget(
          entry,
          `the order failed (${message}) and the name is no longer allowed`,
        );
        throw err;
      }
      entry.failures++;
      entry.lastError = message;
      entry.lastErrorAtMs = nowMs;
      entry.nextAttemptMs = retryAtMs(nowMs, entry.failures, entry.cert);
      entry.isBusy = false;
      this.#schedule(entry);
      log.warn(
        "Could not obtain a certificate for {names} (attempt {failures}; next at {next}): {err}",
        {
          names: entry.names.join(", "),
          failures: entry.failures,
          next: isoOf(entry.nextAttemptMs),
          err: message,
        },
      );
      const recorded = {
        message,
        atMs: nowMs,
        failures: entry.failures,
        nextAttemptMs: entry.nextAttemptMs,
      };
      await this.#store.saveError(entry.names, recorded).catch((e: unknown) => {
        log.error("Could not record the error of {primary}: {err}", { primary, err: messageOf(e) });
      });
      throw err;
    } finally {
      entry.isBusy = false;
      clearTimeout(timer);
    }
  }

  /** Saves `cert`; on failure retries with backoff in the background until it is on disk. */
  async #save(
    cert: IssuedCert,
    info: { issuedAtMs: number; directoryUrl: string },
    waitMs = 0,
  ): Promise<void> {
    const attempt = async (): Promise<void> => {
      // A newer certificate has taken its place meanwhile: that one is saved instead.
      if (waitMs > 0 && this.#entries.get(cert.names[0]!)?.cert !== cert) return;
      try {
        await this.#store.saveCert(cert, info);
        if (waitMs > 0) log.info("Saved the certificate for {primary}", { primary: cert.names[0] });
      } catch (err: unknown) {
        const nextMs = Math.min(Math.max(SAVE_RETRY_MS, waitMs * 2), 3_600_000);
        log.error(
          "Could not save the certificate for {primary} (served from memory; saving again in {seconds} s): {err}",
          { primary: cert.names[0], seconds: nextMs / 1000, err: messageOf(err) },
        );
        if (!this.#life.signal.aborted) void this.#save(cert, info, nextMs);
      }
    };
    if (waitMs === 0) return await attempt();
    const timer = setTimeout(() => {
      this.#saveTimers.delete(timer);
      void attempt();
    }, waitMs);
    this.#saveTimers.add(timer);
  }

  #notifyChanged(): void {
    try {
      this.#options.onCertificatesChanged?.();
    } catch (err: unknown) {
      log.error("onCertificatesChanged failed: {err}", { err: messageOf(err) });
    }
  }

  #reindex(): void {
    this.#index = buildCertIndex(this.#entries.values());
  }

  /**
   * The certificate on hand for a server name, at once: the stored or obtained one, unexpired;
   * undefined when there is none (then {@linkcode resolve} judges whether to obtain it).
   */
  served(serverName: string): KeyPair | undefined {
    return lookupCert(this.#index, serverName, this.#options.domain, this.#now());
  }

  /**
   * The certificate for a handshake. In HTTP-01 mode an allowed name without one is obtained
   * while the handshake waits (one order per name, bounded in time, at most `onDemandPerHour`
   * new names an hour); refused names reject at once without contacting the ACME server.
   * Rejects with {@linkcode NoCertificateError}.
   */
  resolve(serverName: string): Promise<KeyPair> {
    const served = this.served(serverName);
    if (served !== undefined) return Promise.resolve(served);
    if (this.mode === "dns-01" || this.#life.signal.aborted) {
      return Promise.reject(new NoCertificateError(`No certificate for "${serverName}"`, false));
    }
    const verdict = judgeOnDemand(serverName, {
      domain: this.#options.domain,
      services: this.#options.services(),
      mayObtainCertificate: this.#options.mayObtainCertificate,
    });
    if (verdict.kind === "refused") {
      return Promise.reject(
        new NoCertificateError(
          `No certificate for "${serverName}": ${verdict.reason}`,
          verdict.mayChange,
        ),
      );
    }
    const name = verdict.name;
    const existing = this.#onDemand.get(name);
    if (existing !== undefined) return this.#waitForOrder(name, existing);
    const entry = this.#entries.get(name);
    if (entry !== undefined && entry.nextAttemptMs !== undefined && entry.failures > 0) {
      if (this.#now() < entry.nextAttemptMs) {
        return Promise.reject(
          new NoCertificateError(
            `No certificate for "${name}" until ${isoOf(entry.nextAttemptMs)}: ${entry.lastError}`,
            true,
          ),
        );
      }
    }
    if (entry === undefined && !this.#spendOnDemandBudget(name)) {
      return Promise.reject(
        new NoCertificateError(
          `No certificate for "${name}" now: ${this.#onDemandPerHour} new names were ordered in the last hour`,
          true,
        ),
      );
    }
    const flight = this.#obtainOnDemand(name).finally(() => this.#onDemand.delete(name));
    flight.catch(() => {}); // Logged and recorded by #obtain; waiters see the rejection.
    this.#onDemand.set(name, flight);
    return this.#waitForOrder(name, flight);
  }

  get #onDemandPerHour(): number {
    return this.#options.onDemandPerHour ?? 30;
  }

  /** Counts a new on-demand name against the hourly budget; false when it is spent. */
  #spendOnDemandBudget(name: string): boolean {
    const nowMs = this.#now();
    this.#onDemandStartsMs = this.#onDemandStartsMs.filter((t) => nowMs - t < ON_DEMAND_WINDOW_MS);
    if (this.#onDemandStartsMs.length >= this.#onDemandPerHour) {
      if (!this.#isBudgetWarned) {
        this.#isBudgetWarned = true;
        log.warn(
          "Refused an on-demand certificate for {name}: {limit} new names were ordered in the last hour",
          { name, limit: this.#onDemandPerHour },
        );
      }
      return false;
    }
    this.#isBudgetWarned = false;
    this.#onDemandStartsMs.push(nowMs);
    return true;
  }

  /** The handshake's view of an order: its result, or a rejection at the handshake's bound. */
  #waitForOrder(name: string, order: Promise<KeyPair>): Promise<KeyPair> {
    const timeoutMs = this.#options.onDemandTimeoutMs ?? 25_000;
    return new Promise<KeyPair>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new NoCertificateError(
            `No certificate for "${name}" yet: still obtaining it after ${timeoutMs} ms`,
            true,
          ),
        );
      }, timeoutMs);
      order.then(resolve, (err: unknown) => {
        reject(new NoCertificateError(`No certificate for "${name}": ${messageOf(err)}`, true));
      }).finally(() => clearTimeout(timer));
    });
  }

  async #obtainOnDemand(name: string): Promise<KeyPair> {
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      entry = newCertEntry([name], "http-01");
      this.#entries.set(name, entry);
    }
    const cert = await this.#obtain(entry);
    return { cert: cert.certPem, key: cert.keyPem };
  }

  /** See ChallengeResponder: answers pending HTTP-01 challenges. */
  keyAuthorization(token: string): string | undefined {
    return this.#http01.get(token);
  }

  /** Every certificate served or planned, for `ten certs` and the API. */
  status(): CertStatus[] {
    return [...this.#entries.values()]
      .sort((a, b) => (a.names[0]! < b.names[0]! ? -1 : a.names[0]! > b.names[0]! ? 1 : 0))
      .map(certStatusOf);
  }

  /** Stops timers and orders, and waits for running work to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#life.abort(new DOMException("Certificate manager closed", "AbortError"));
    for (const entry of this.#entries.values()) {
      if (entry.timer !== undefined) clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    this.#queue.length = 0;
    for (const timer of this.#saveTimers) clearTimeout(timer);
    this.#saveTimers.clear();
    await Promise.allSettled([this.#worker, ...this.#onDemand.values()]);
  }
}
