/**
 * Composition root of `ten serve`: builds store → logs → supervisor → API → front in order, and
 * unwinds in reverse on SIGTERM/SIGINT (instances stopped in parallel within their grace) or when
 * a later step fails. The public listener is the raw HTTP/1.1 front (`proxy/front_server.ts`);
 * tenement's own routes (API, /health, /metrics) run on `Deno.serve` behind it, on a Unix socket
 * in tenement's private directory (`.tenement/api.sock`), reached the same raw way.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { messageOf, TenementError } from "../core/errors.ts";
import type { Config } from "../config/schema.ts";
import type { TlsPlan } from "../config/tls_plan.ts";
import { type ApiDeps, createApiHandler, createMetricsHandler } from "../api/api_handler.ts";
import { serveDashboard } from "../dashboard/dashboard_handler.ts";
import type { InstanceMeasures } from "../api/measured_view.ts";
import { LogStore } from "../logs/log_store.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import type { HistogramSeries, RequestCounts } from "../metrics/metric_families.ts";
import { EventLoopLag } from "../metrics/event_loop_lag.ts";
import { type FrontServer, startFrontServer } from "../proxy/front_server.ts";
import type { UpstreamTarget } from "../proxy/upstream_pool.ts";
import { InstanceFiles } from "../runtime/instance_files.ts";
import { OrphanReaper } from "../runtime/orphan_reaper.ts";
import { Cgroups } from "../runtime/cgroups.ts";
import { isPortFree, NetProber } from "../runtime/probe.ts";
import { GroupLauncher } from "../runtime/process_group.ts";
import { StorageMeter } from "../runtime/storage_meter.ts";
import { ResourceSampler } from "../runtime/resource_sampler.ts";
import { StateStore } from "../store/state_store.ts";
import { ensureStateDir, migrateStateLayout } from "../store/state_layout.ts";
import { PortPool } from "../supervisor/port_pool.ts";
import { rootInstancesWarning, sharedUserWarning } from "../supervisor/launch_spec.ts";
import { InstanceUsers } from "../runtime/instance_users.ts";
import { readSystemAccounts } from "../runtime/system_accounts.ts";
import { realClock } from "../supervisor/real_clock.ts";
import { Supervisor } from "../supervisor/supervisor.ts";
import type { Target, TargetResolver } from "../proxy/target.ts";
import { waitAtMost } from "../supervisor/delay.ts";
import type { CertificateSource } from "../api/api_ports.ts";
import type { SniResolver } from "../tls/tls_types.ts";
import { type Https, startHttps } from "./https.ts";
import { createApiDispatch } from "./dispatch.ts";
import { checkDescriptorLimit } from "./fd_limit.ts";
import { ConfigReloader } from "./config_reloader.ts";
import { loadConfig } from "../config/load_config.ts";

const log = getLogger(["tenement", "daemon"]);
/** A signal this soon after the first one is the same request to stop, delivered twice. */
const SIGNAL_REPEAT_MS = 1_000;
/** Longest wait at shutdown for the listeners to finish their last responses. */
const SERVER_SHUTDOWN_WAIT_MS = 5_000;

/** Options of `ten serve`. */
export interface DaemonOptions {
  readonly config: Config;
  readonly port: number;
  readonly domain: string;
  /** Bind address. @default {"0.0.0.0"} */
  readonly hostname?: string;
  /** Ends the daemon (tests); signals end it too. */
  readonly signal?: AbortSignal;
  /** Called once listening, with the bound port. */
  readonly onListen?: (addr: Deno.NetAddr) => void;
  /** Built-in HTTPS with ACME certificates; undefined serves plain HTTP only. */
  readonly tls?: TlsPlan | undefined;
  /**
   * Reads the config file again for `ten reload` and SIGHUP, with the same overrides as at
   * start. @default {re-reads `config.path`}
   */
  readonly reloadConfig?: () => Promise<Config>;
}

/** Runs the daemon until a signal or `options.signal`; resolves after a clean shutdown. */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { config } = options;
  const dataDir = config.settings.dataDir;
  const paths = await ensureStateDir(dataDir);
  await using stack = new AsyncDisposableStack();
  // One daemon per data dir: a second one would take the first one's instances for orphans.
  const lock = stack.use(await Deno.open(paths.lockFile, { create: true, write: true }));
  if (!await lock.tryLock(true)) {
    throw new TenementError(`Another ten serve is already using the data dir ${dataDir}`);
  }
  await migrateStateLayout(dataDir, { acmeCacheDir: config.settings.tls.cacheDir });
  const store = stack.use(await StateStore.open(paths.stateFile));
  await checkDescriptorLimit(config.settings.maxConnections);
  const rootWarning = rootInstancesWarning(config.services.values(), Deno.uid());
  if (rootWarning !== undefined) log.warn("{warning}", { warning: rootWarning });
  const userWarning = sharedUserWarning(config.services.values(), Deno.uid(), await userName());
  if (userWarning !== undefined) log.warn("{warning}", { warning: userWarning });
  const metrics = new MetricsRegistry();
  // Before the supervisor, so it is closed after the instances' last lines are written.
  const logs = stack.use(LogStore.open(paths.logsDb, {
    retentionMs: config.settings.logRetentionMs,
    maxSizeBytes: config.settings.logMaxSizeBytes,
    metrics,
  }));
  // Request metrics per target: the supervisor hands out one target object per instance run.
  const requestSeries = new WeakMap<Target, { count: RequestCounts; duration: HistogramSeries }>();
  let front: FrontServer | undefined;
  let https: Https | undefined;
  let certManager: Pick<CertificateSource, "status"> | undefined;
  const domain = options.domain;
  const supervisor = new Supervisor({
    config,
    launcher: new GroupLauncher(),
    prober: new NetProber(),
    portPool: new PortPool({
      start: config.settings.portRangeStart,
      end: config.settings.portRangeEnd,
      isFree: isPortFree,
    }),
    repo: store,
    logs,
    clock: realClock,
    reaper: new OrphanReaper(),
    files: new InstanceFiles(),
    users: new InstanceUsers(store),
    cgroups: new Cgroups({ root: config.settings.cgroupRoot }),
    baseEnv: Deno.env.toObject(),
    metrics,
    onStopped: (port) => front?.closeUpstream({ kind: "tcp", hostname: "127.0.0.1", port }),
    cpuCount: navigator.hardwareConcurrency,
  });
  const stop = new AbortController();
  let firstSignalMs = 0;
  const onSignal = (): void => {
    const nowMs = performance.now();
    if (!stop.signal.aborted) {
      firstSignalMs = nowMs;
      return stop.abort();
    }
    // The same stop delivered again (a process manager or `make` forwarding it to the group):
    // keep stopping gracefully.
    if (nowMs - firstSignalMs < SIGNAL_REPEAT_MS) return;
    // A second Ctrl-C: leave now, but take the instances along rather than orphan them.
    const killed = supervisor.killAllNow();
    log.warn("Second signal: killed {count} instance process groups, exiting without waiting", {
      count: killed,
    });
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  // Deferred before the supervisor is on the stack, so removed only after the instances are
  // stopped: a signal during the stop must reach onSignal, not the default action (which would
  // end the process and orphan the instances).
  stack.defer(() => {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  });
  options.signal?.addEventListener("abort", onSignal, { once: true });

  // `ten reload` and SIGHUP: re-read the config file; a bad one changes nothing.
  const reloader = new ConfigReloader({
    read: options.reloadConfig ??
      (() => loadConfig({ explicit: config.path, env: Deno.env.toObject(), cwd: Deno.cwd() })),
    apply: (next) => {
      const report = supervisor.reload(next);
      // New services get their certificates (DNS-01 mode) without a restart.
      https?.replan();
      return report;
    },
  });
  const onHangup = (): void => {
    reloader.reload().catch((err: unknown) => log.error("Config reload failed: {err}", { err }));
  };
  Deno.addSignalListener("SIGHUP", onHangup);
  stack.defer(() => Deno.removeSignalListener("SIGHUP", onHangup));

  let serverShutdown: Promise<unknown> | undefined;
  // Runs after the instances are stopped: in-flight responses have ended by then.
  stack.defer(async () => {
    if (serverShutdown) await waitAtMost(serverShutdown, SERVER_SHUTDOWN_WAIT_MS);
  });
  stack.use(supervisor);

  // Memory and CPU of the awake instances, sampled on a timer for /metrics and the instance list.
  const sampler = new ResourceSampler({
    targets: () =>
      supervisor.list().flatMap((view) =>
        view.pid === undefined ? [] : [{ service: view.service, id: view.id, pid: view.pid }]
      ),
    onSample: (samples) =>
      metrics.sampled(samples.map((s) => ({ ...s, process: s.service, instance: s.id }))),
    cgroupRoot: config.settings.cgroupRoot,
  });
  const storageMeter = new StorageMeter(() => supervisor.config);
  const measures: InstanceMeasures = {
    usedBytes: (ref, options) => storageMeter.usedBytes(ref, options),
    quotaBytes: (service) => storageMeter.quotaBytes(service),
    resourceUsage: (ref) => sampler.usage(ref.service, ref.id),
  };
  const eventLoopLag = new EventLoopLag();
  metrics.onCollect(() => {
    metrics.daemonMemory.set({}, Deno.memoryUsage().rss);
    metrics.connections.set(
      {},
      (front?.openConnections ?? 0) + (https?.front.openConnections ?? 0),
    );
    metrics.eventLoopLag.set({}, eventLoopLag.maxSeconds);
  });

  const apiDeps: ApiDeps = {
    instances: supervisor,
    tokens: store,
    audit: store,
    logs,
    storage: measures,
    metrics,
    now: Date.now,
    domain,
    // Read per request: the HTTPS side starts after the API is built.
    certificates: options.tls === undefined ? undefined : {
      domain,
      directoryUrl: options.tls.directoryUrl,
      status: () => certManager?.status() ?? [],
    },
    reload: reloader,
    metricsInstanceLabel: () => supervisor.config.settings.metricsInstanceLabel,
    dashboard: serveDashboard,
  };
  const apiDispatch = createApiDispatch(createApiHandler(apiDeps));

  // Bind before the supervisor touches anything, so a busy port fails without side effects;
  // requests that arrive meanwhile wait until the instance table is restored.
  const started = Promise.withResolvers<void>();
  let isStarted = false;
  const api = await serveApi(
    paths.apiSocket,
    (req) => isStarted ? apiDispatch(req) : started.promise.then(() => apiDispatch(req)),
  );
  // `metrics_bind`: /metrics without a token, on an address only the scraper reaches.
  const metricsBind = config.settings.metricsBind;
  let metricsServer: Deno.HttpServer | undefined;
  if (metricsBind !== undefined) {
    try {
      metricsServer = Deno.serve({
        ...metricsBind,
        onListen: (addr) =>
          log.info("Metrics on http://{host}:{port}/metrics", {
            host: addr.hostname,
            port: addr.port,
          }),
      }, createMetricsHandler(apiDeps));
    } catch (error) {
      await api.server.shutdown();
      throw new TenementError(
        `Cannot listen on metrics_bind ${metricsBind.hostname}:${metricsBind.port}: ${
          messageOf(error)
        }`,
      );
    }
  }
  const metricsListener = metricsServer;
  // The front asks this resolver; until the supervisor has started, requests wait for it.
  const resolver: TargetResolver = {
    resolveDirect: (service, id, signal, clientIp) =>
      isStarted
        ? supervisor.resolveDirect(service, id, signal, clientIp)
        : started.promise.then(() => supervisor.resolveDirect(service, id, signal, clientIp)),
    resolveWeighted: (service, signal, stickyId, clientIp) =>
      isStarted
        ? supervisor.resolveWeighted(service, signal, stickyId, clientIp)
        : started.promise.then(() =>
          supervisor.resolveWeighted(service, signal, stickyId, clientIp)
        ),
    beginRequest: (target) => supervisor.beginRequest(target),
    waitForRestart: (target, signal) => supervisor.waitForRestart(target, signal),
  };
  const startFront = (
    port: number,
    hostname: string,
    tls: SniResolver | undefined,
    onListen: (addr: Deno.NetAddr) => void,
  ): FrontServer =>
    startFrontServer({
      port,
      hostname,
      domain,
      resolver,
      fallback: api.target,
      ...(tls === undefined ? { proto: "http" as const } : { tls: { resolver: tls } }),
      trustedProxies: config.settings.trustedProxies,
      firstByteTimeoutMs: config.settings.firstByteTimeoutMs,
      maxConnections: config.settings.maxConnections,
      maxConnectionsPerClient: config.settings.maxConnectionsPerClient,
      // A service that sets `socket` is reached over it while the app listens there; else TCP.
      preferUnix: (target) => target.socketPath !== undefined,
      onProxied: (target, status, durationMs) => {
        let series = requestSeries.get(target);
        if (series === undefined) {
          const labels = { instance: target.id, process: target.service };
          series = {
            count: metrics.requests.series(labels),
            duration: metrics.requestDuration.series(labels),
          };
          requestSeries.set(target, series);
        }
        series.count.count(status);
        series.duration.observe(durationMs / 1000);
      },
      onListen,
    });
  const hostname = options.hostname ?? "0.0.0.0";
  const tls = options.tls;
  try {
    // With built-in TLS the public listeners are https_port and http_port; the plain front
    // stays on --port for the CLI and local checks, on loopback only.
    front = startFront(
      options.port,
      tls === undefined ? hostname : "127.0.0.1",
      undefined,
      () => {},
    );
    if (tls !== undefined) {
      https = await startHttps({
        plan: tls,
        hostname,
        services: () => [...supervisor.config.services.keys()],
        mayObtainCertificate: (service, id) => supervisor.mayObtainCertificate(service, id),
        ready: started.promise,
        startFront: (port, sni) =>
          startFront(port, hostname, sni, (addr) => {
            log.info("tenement listening on https://{host}:{port} (domain {domain}, ACME {dir})", {
              host: addr.hostname,
              port: addr.port,
              domain,
              dir: tls.directoryUrl,
            });
          }),
      });
      certManager = https.certificates;
    }
    // Announced once every listener is bound, so "listening" means all of them answer.
    log.info("tenement listening on http://{host}:{port} (domain {domain})", {
      host: front.addr.hostname,
      port: front.addr.port,
      domain,
    });
    options.onListen?.(front.addr);
  } catch (error) {
    await front?.shutdown({ graceMs: 0 });
    await api.server.shutdown();
    await metricsListener?.shutdown();
    throw error;
  }
  const publicFront = front;
  const httpsSide = https;
  // Unwound first: stop accepting new connections while the instances stop.
  stack.defer(() => {
    serverShutdown = Promise.all([
      publicFront.shutdown({ graceMs: 5_000 }),
      httpsSide?.front.shutdown({ graceMs: 5_000 }),
      httpsSide?.[Symbol.asyncDispose](),
      api.server.shutdown().then(() => removeSocket(api.socketPath)),
      metricsListener?.shutdown(),
    ]);
  });
  await supervisor.start();
  isStarted = true;
  started.resolve();
  stack.use(eventLoopLag).start();
  stack.use(sampler).start();
  if (!stop.signal.aborted) {
    await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve()));
  }
  log.info("Shutting down: stopping instances");
}

/** The internal API listener. */
interface ApiListener {
  readonly server: Deno.HttpServer;
  /** How the front reaches it. */
  readonly target: UpstreamTarget;
  /** Its Unix socket, when it has one. */
  readonly socketPath: string | undefined;
}

/** Longest Unix socket path Linux accepts (sun_path holds 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Serves tenement's own routes on `path` (`{data_dir}/.tenement/api.sock`), or on 127.0.0.1
 * with a free port when that path is too long for a Unix socket.
 */
async function serveApi(
  path: string,
  handler: (req: Request) => Promise<Response>,
): Promise<ApiListener> {
  if (new TextEncoder().encode(path).length <= MAX_SOCKET_PATH) {
    // The data dir is locked by this daemon: a socket left there is from one that crashed.
    await Deno.remove(path).catch(() => {});
    const server = Deno.serve({ path, transport: "unix", onListen() {} }, handler);
    return { server, target: { kind: "unix", path }, socketPath: path };
  }
  log.info("Data dir path too long for a Unix socket: the API listens on 127.0.0.1 instead");
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  return {
    server,
    target: { kind: "tcp", hostname: "127.0.0.1", port: server.addr.port },
    socketPath: undefined,
  };
}

/** The daemon's own user name, from /etc/passwd (its uid when it has none). */
async function userName(): Promise<string> {
  const uid = Deno.uid();
  const entry = (await readSystemAccounts()).users.find((u) => u.uid === uid);
  return entry?.name ?? `uid ${uid}`;
}

async function removeSocket(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  await Deno.remove(path).catch(() => {});
}
