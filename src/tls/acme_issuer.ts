/**
 * Obtains one certificate from an ACME server (RFC 8555) behind a small interface; the only
 * module that imports `acme-client`. ECDSA P-256 keys; the account key is stored per ACME
 * directory and the account re-registered when the server forgot it. Authorizations are
 * completed one after the other, so a DNS hook that holds one TXT value per name serves a
 * wildcard and its base name in turn.
 * @module
 */
import acme from "acme-client";
import https from "node:https";
import tls from "node:tls";
import { getLogger } from "@logtape/logtape";
import type { ChallengeKind } from "./tls_types.ts";
import type { IssuedCert } from "./cert_store.ts";

const log = getLogger(["tenement", "tls"]);

/** One challenge to make answerable. */
export interface SolverChallenge {
  /** The identifier being validated, without the `*.` of a wildcard. */
  readonly name: string;
  readonly token: string;
  /** The HTTP-01 body, or for DNS-01 the TXT value (already the base64url SHA-256 digest). */
  readonly keyAuthorization: string;
}

/** Makes challenges of one kind answerable and withdraws them afterwards. */
export interface ChallengeSolver {
  readonly kind: ChallengeKind;
  present(challenge: SolverChallenge, signal: AbortSignal): Promise<void>;
  /**
   * Withdraws a challenge; best effort (its failure is logged, not thrown by the issuer). Stops
   * when `signal` aborts (the issuer bounds clean-up, shortly at shutdown).
   */
  cleanup(challenge: SolverChallenge, signal: AbortSignal): Promise<void>;
}

/** Where the issuer keeps its ACME account key. */
export interface AccountKeyStore {
  loadAccountKey(directoryUrl: string): Promise<string | undefined>;
  saveAccountKey(directoryUrl: string, keyPem: string): Promise<void>;
}

/** Options of {@linkcode createAcmeIssuer}. */
export interface AcmeIssuerOptions {
  readonly directoryUrl: string;
  /** Contact address for the account. */
  readonly email?: string;
  /** Extra PEM roots to trust for the ACME server's own HTTPS (added to the usual ones). */
  readonly caPem?: string;
  readonly accounts: AccountKeyStore;
}

/** Obtains certificates. */
export interface AcmeIssuer {
  /** Obtains a certificate for `names` (primary first); rejects when `signal` aborts. */
  issue(
    names: readonly string[],
    solver: ChallengeSolver,
    signal: AbortSignal,
  ): Promise<IssuedCert>;
}

/** Let's Encrypt's production and staging directories. */
export const LETS_ENCRYPT_DIRECTORY = acme.directory.letsencrypt.production;
export const LETS_ENCRYPT_STAGING_DIRECTORY = acme.directory.letsencrypt.staging;

let isInterceptorInstalled = false;

/**
 * acme-client's axios interceptor reads `error.response.config` on a transport error (refused
 * connection, untrusted certificate), which has no response: it then throws a TypeError that
 * hides the cause. A handler placed before it turns transport errors into plain errors naming
 * the cause; without `config`, acme-client's handler passes them on untouched (and skips its
 * own retries: tenement's backoff retries the whole order).
 */
function installTransportErrorUnwrap(): void {
  if (isInterceptorInstalled) return;
  isInterceptorInstalled = true;
  acme.setLogger((message) => log.debug("acme-client: {message}", { message }));
  const response = acme.axios.interceptors.response;
  const unwrap = (err: unknown): never => {
    if (err instanceof Error && "config" in err && !("response" in err && err.response)) {
      const code = "code" in err && typeof err.code === "string" ? ` (${err.code})` : "";
      const config = err.config as { url?: unknown } | undefined;
      const url = typeof config?.url === "string" ? ` ${config.url}` : "";
      throw new Error(`Cannot reach the ACME server${url}: ${err.message}${code}`, { cause: err });
    }
    throw err;
  };
  response.handlers = [
    { fulfilled: (r) => r, rejected: unwrap, synchronous: false, runWhen: null },
    ...(response.handlers ?? []),
  ];
}

/** Rejects with the signal's reason as soon as it aborts, whatever `work` does. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Longest clean-up (unset hook, deactivation) after an order ends, and after shutdown. */
const CLEANUP_MS = 60_000;
const CLEANUP_AFTER_ABORT_MS = 2_000;

/**
 * The bound of a clean-up step: `CLEANUP_MS`, cut to `CLEANUP_AFTER_ABORT_MS` once the order is
 * aborted (shutdown: the daemon waits only a few seconds). Dispose it when the step ends.
 */
function cleanupBound(orderSignal: AbortSignal): Disposable & { readonly signal: AbortSignal } {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number, why: string): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(why)), ms);
  };
  const onAbort = (): void =>
    arm(
      CLEANUP_AFTER_ABORT_MS,
      `clean-up cut short ${CLEANUP_AFTER_ABORT_MS} ms after the order ended`,
    );
  arm(CLEANUP_MS, `clean-up took longer than ${CLEANUP_MS} ms`);
  if (orderSignal.aborted) onAbort();
  else orderSignal.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    [Symbol.dispose]: () => {
      clearTimeout(timer);
      orderSignal.removeEventListener("abort", onAbort);
    },
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Creates an issuer for one ACME directory. */
export function createAcmeIssuer(options: AcmeIssuerOptions): AcmeIssuer {
  installTransportErrorUnwrap();
  // Process-wide (acme-client has one axios instance); the daemon runs one ACME directory.
  acme.axios.defaults.httpsAgent = options.caPem === undefined
    ? undefined
    : new https.Agent({ ca: [...tls.rootCertificates, options.caPem] });
  acme.axios.defaults.timeout = 30_000;

  async function loadOrCreateAccountKey(): Promise<string> {
    const stored = await options.accounts.loadAccountKey(options.directoryUrl);
    if (stored !== undefined) return stored;
    const created = (await acme.crypto.createPrivateEcdsaKey("P-256")).toString();
    await options.accounts.saveAccountKey(options.directoryUrl, created);
    log.info("Created an ACME account key for {directory}", { directory: options.directoryUrl });
    return created;
  }

  // One account key per issuer: concurrent first orders share the one being created, so no
  // second key is made and saved over the first (a failure lets the next order try again).
  let accountKeyPromise: Promise<string> | undefined;
  function accountKey(): Promise<string> {
    accountKeyPromise ??= loadOrCreateAccountKey().catch((err: unknown) => {
      accountKeyPromise = undefined;
      throw err;
    });
    return accountKeyPromise;
  }

  async function issue(
    names: readonly string[],
    solver: ChallengeSolver,
    signal: AbortSignal,
  ): Promise<IssuedCert> {
    const step = <T>(work: Promise<T>): Promise<T> => abortable(work, signal);
    const client = new acme.Client({
      directoryUrl: options.directoryUrl,
      accountKey: await step(accountKey()),
      backoffAttempts: 12,
      backoffMin: 250,
      backoffMax: 5_000,
    });
    // Registering with a known key returns the existing account; after the server forgot it
    // (a pebble restart, a reset staging server) it creates a new one.
    await step(client.createAccount({
      termsOfServiceAgreed: true,
      ...(options.email === undefined ? {} : { contact: [`mailto:${options.email}`] }),
    }));
    const order = await step(client.createOrder({
      identifiers: names.map((value) => ({ type: "dns", value })),
    }));
    const authorizations = await step(client.getAuthorizations(order));
    for (const authz of authorizations) {
      if (authz.status === "valid") continue;
      const challenge = authz.challenges.find((c) => c.type === solver.kind);
      const name = authz.identifier.value;
      if (challenge === undefined) {
        throw new Error(
          `Cannot validate "${name}": the ACME server offers no ${solver.kind} challenge`,
        );
      }
      const keyAuthorization = await step(client.getChallengeKeyAuthorization(challenge));
      const pending: SolverChallenge = { name, token: challenge.token, keyAuthorization };
      let isCompleted = false;
      try {
        await step(solver.present(pending, signal));
        try {
          await step(client.completeChallenge(challenge));
          isCompleted = true;
          await step(client.waitForValidStatus(challenge));
        } finally {
          using bound = cleanupBound(signal);
          await abortable(solver.cleanup(pending, bound.signal), bound.signal).catch(
            (err: unknown) => {
              log.warn("Cleaning up the {kind} challenge of {name} failed: {err}", {
                kind: solver.kind,
                name,
                err: messageOf(err),
              });
            },
          );
        }
      } catch (err: unknown) {
        // A challenge never submitted leaves a pending authorization: deactivate it (best effort).
        if (!isCompleted) {
          using bound = cleanupBound(signal);
          await abortable(client.deactivateAuthorization(authz), bound.signal).catch(() => {});
        }
        throw new Error(`${solver.kind} validation of "${name}" failed: ${messageOf(err)}`, {
          cause: err,
        });
      }
    }
    const keyPem = (await step(acme.crypto.createPrivateEcdsaKey("P-256"))).toString();
    const [, csr] = await step(
      acme.crypto.createCsr({ commonName: names[0]!, altNames: [...names] }, keyPem),
    );
    const finalized = await step(client.finalizeOrder(order, csr));
    const certPem = await step(client.getCertificate(finalized));
    const info = acme.crypto.readCertificateInfo(certPem);
    return {
      names: [...names],
      certPem,
      keyPem,
      notBeforeMs: info.notBefore.getTime(),
      notAfterMs: info.notAfter.getTime(),
      issuer: info.issuer.commonName,
    };
  }

  return { issue };
}
