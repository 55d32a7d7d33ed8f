/**
 * Built-in HTTPS, composed: the certificate manager (ACME, `tls/cert_manager.ts`), the front on
 * `https_port` choosing a certificate per handshake, and the plain listener on `http_port` that
 * answers ACME HTTP-01 challenges and redirects everything else to HTTPS.
 *
 * Deno caches each handshake's answer per listener, refusals included, so the front's TLS
 * listener is replaced (1) after every new certificate and after a config reload, and (2) at
 * most once a minute after a handshake for a name under the domain was refused for a reason that
 * may pass (a backoff, the on-demand budget, an instance not created yet), so that name is asked
 * about again. Refusals of foreign or invalid names (scanners) change nothing.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { messageOf, TenementError } from "../core/errors.ts";
import type { TlsPlan } from "../config/tls_plan.ts";
import type { FrontServer } from "../proxy/front_server.ts";
import { type RedirectServer, startRedirectServer } from "../proxy/redirect_server.ts";
import { CertManager, NoCertificateError } from "../tls/cert_manager.ts";
import type { KeyPair, SniResolver } from "../tls/tls_types.ts";

const log = getLogger(["tenement", "tls"]);

/** Least time between listener replacements caused by refused handshakes. */
const REFUSAL_REFRESH_MS = 60_000;

/** What the HTTPS side needs from the daemon. */
export interface HttpsOptions {
  readonly plan: TlsPlan;
  /** Bind address of both public listeners. */
  readonly hostname: string;
  /** The configured service names (read again on a config reload). */
  readonly services: () => readonly string[];
  /** The supervisor's gate: may `{id}.{service}.{domain}` get a certificate (it exists)? */
  readonly mayObtainCertificate: (service: string, id: string) => boolean;
  /** Resolves once the supervisor has restored its instances (the gate is meaningful). */
  readonly ready: Promise<void>;
  /** Starts the front on `https_port` with this resolver (the daemon's front options). */
  readonly startFront: (port: number, resolver: SniResolver) => FrontServer;
}

/** The running HTTPS side. */
export interface Https extends AsyncDisposable {
  readonly certificates: CertManager;
  readonly front: FrontServer;
  readonly redirect: RedirectServer;
  /** Re-plans certificates after a config reload (new services get theirs). */
  replan(): void;
}

/**
 * Checks the plan's files, opens the certificate store and starts both listeners. Throws
 * TenementError naming the file or port at fault.
 */
export async function startHttps(options: HttpsOptions): Promise<Https> {
  const { plan } = options;
  const acmeCaPem = plan.acmeCaCert === undefined ? undefined : await readCa(plan.acmeCaCert);
  if (plan.dnsHook !== undefined) await assertExecutable(plan.dnsHook);
  let front: FrontServer | undefined;
  const certificates = await CertManager.open({
    storeDir: plan.storeDir,
    directoryUrl: plan.directoryUrl,
    email: plan.email,
    ...(acmeCaPem === undefined ? {} : { acmeCaPem }),
    domain: plan.domain,
    services: options.services,
    ...(plan.dnsHook === undefined ? {} : { dnsHook: plan.dnsHook }),
    isPropagationChecked: plan.dnsPropagationCheck,
    mayObtainCertificate: options.mayObtainCertificate,
    onCertificatesChanged: () => void front?.reloadCertificates(),
  }).catch((cause: unknown) => {
    if (cause instanceof TenementError) throw cause;
    throw new TenementError(
      `Cannot use settings.tls.cache_dir ${plan.storeDir} for certificates: ${messageOf(cause)}` +
        " (it must be writable by ten serve; under systemd's ProtectSystem=strict add it to ReadWritePaths)",
      { cause },
    );
  });
  let isRefreshDue = false;
  let lastRefreshMs = 0;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshSoon = (): void => {
    if (isRefreshDue) return;
    isRefreshDue = true;
    const waitMs = Math.max(0, lastRefreshMs + REFUSAL_REFRESH_MS - Date.now());
    refreshTimer = setTimeout(() => {
      isRefreshDue = false;
      lastRefreshMs = Date.now();
      void front?.reloadCertificates();
    }, waitMs);
  };
  const resolver: SniResolver = {
    async resolve(serverName: string): Promise<KeyPair> {
      // Certificates on hand are served at once, even while instances are still being restored.
      const served = certificates.served(serverName);
      if (served !== undefined) return served;
      await options.ready;
      try {
        return await certificates.resolve(serverName);
      } catch (error) {
        if (!(error instanceof NoCertificateError) || error.mayChange) refreshSoon();
        throw error;
      }
    },
  };
  try {
    front = options.startFront(plan.httpsPort, resolver);
  } catch (error) {
    await certificates[Symbol.asyncDispose]();
    throw portError(error, options.hostname, plan.httpsPort, "https_port");
  }
  let redirect: RedirectServer;
  try {
    redirect = startRedirectServer({
      hostname: options.hostname,
      port: plan.httpPort,
      httpsPort: plan.httpsPort,
      challenges: certificates,
      onListen: (addr) => {
        log.info("HTTP on {host}:{port}: ACME challenges, and 308 to HTTPS for the rest", {
          host: addr.hostname,
          port: addr.port,
        });
      },
    });
  } catch (error) {
    await front.shutdown({ graceMs: 0 });
    await certificates[Symbol.asyncDispose]();
    throw portError(error, options.hostname, plan.httpPort, "http_port");
  }
  const httpsFront = front;
  return {
    certificates,
    front: httpsFront,
    redirect,
    replan: () => {
      certificates.replan();
      // Names refused before the reload (a service added since) are asked about again.
      void httpsFront.reloadCertificates();
    },
    async [Symbol.asyncDispose]() {
      clearTimeout(refreshTimer);
      await redirect.shutdown();
      await certificates[Symbol.asyncDispose]();
    },
  };
}

async function readCa(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new TenementError(
      `Cannot read settings.tls.acme_ca_cert ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TenementError(
      `settings.tls.acme_ca_cert ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  }
  return text;
}

async function assertExecutable(path: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (info === undefined) {
    throw new TenementError(`settings.tls.dns_hook ${path} does not exist`);
  }
  if (!info.isFile || ((info.mode ?? 0) & 0o111) === 0) {
    throw new TenementError(
      `settings.tls.dns_hook ${path} is not an executable file (chmod +x ${path})`,
    );
  }
}

function portError(error: unknown, hostname: string, port: number, key: string): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new TenementError(
      `Cannot listen on ${hostname}:${port} (settings.tls.${key}): address already in use`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new TenementError(
      `Cannot listen on ${hostname}:${port} (settings.tls.${key}): ports below 1024 need root or CAP_NET_BIND_SERVICE`,
      { cause: error },
    );
  }
  return error;
}
