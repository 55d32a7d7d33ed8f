/**
 * Composition root of `ten serve`: builds store → logs → supervisor → proxy → API → listener in
 * order, and unwinds in reverse on SIGTERM/SIGINT (instances stopped in parallel within their
 * grace) or when a later step fails.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { TenementError } from "../core/errors.ts";
import type { Config } from "../config/schema.ts";
import { createApiHandler } from "../api/api_handler.ts";
import { LogRing } from "../logs/log_ring.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import { createProxyHandler } from "../proxy/proxy_handler.ts";
import { createUpstreamClient } from "../proxy/upstream_client.ts";
import { InstanceFiles } from "../runtime/instance_files.ts";
import { OrphanReaper } from "../runtime/orphan_reaper.ts";
import { isPortFree, NetProber } from "../runtime/probe.ts";
import { GroupLauncher } from "../runtime/process_group.ts";
import { StateStore } from "../store/state_store.ts";
import { PortPool } from "../supervisor/port_pool.ts";
import { Supervisor } from "../supervisor/supervisor.ts";
import { delay } from "../supervisor/delay.ts";
import { createDispatch } from "./dispatch.ts";

const log = getLogger(["tenement", "daemon"]);

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
}

/** Runs the daemon until a signal or `options.signal`; resolves after a clean shutdown. */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { config } = options;
  const dataDir = config.settings.dataDir;
  await Deno.mkdir(dataDir, { recursive: true });
  await using stack = new AsyncDisposableStack();
  // One daemon per data dir: a second one would take the first one's instances for orphans.
  const lock = stack.use(await Deno.open(`${dataDir}/ten.lock`, { create: true, write: true }));
  if (!await lock.tryLock(true)) {
    throw new TenementError(`Another ten serve is already using the data dir ${dataDir}`);
  }
  const store = stack.use(await StateStore.open(`${config.settings.dataDir}/tenement.kv`));
  const logs = new LogRing();
  const metrics = new MetricsRegistry();
  const upstream = createUpstreamClient();
  stack.defer(() => upstream.close());
  const supervisor = new Supervisor({
    config,
    launcher: new GroupLauncher(),
    prober: new NetProber(),
    ports: new PortPool({
      start: config.settings.portRangeStart,
      end: config.settings.portRangeEnd,
      isFree: isPortFree,
    }),
    repo: store,
    logs,
    clock: { now: Date.now, random: Math.random },
    reaper: new OrphanReaper(),
    files: new InstanceFiles(),
    baseEnv: Deno.env.toObject(),
    metrics,
    onStopped: (port) => upstream.closeTarget({ kind: "tcp", hostname: "127.0.0.1", port }),
    cpuCount: navigator.hardwareConcurrency,
  });
  let serverShutdown: Promise<void> | undefined;
  // Runs after the instances are stopped: in-flight responses have ended by then.
  stack.defer(async () => {
    if (serverShutdown) await Promise.race([serverShutdown, delay(5_000)]);
  });
  stack.use(supervisor);

  const dispatch = createDispatch(
    options.domain,
    createProxyHandler({ resolver: supervisor, upstream, metrics, proto: "http" }),
    createApiHandler({ supervisor, store, logs, metrics, now: Date.now }),
  );
  const stop = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) return stop.abort();
    // A second Ctrl-C: leave now; the next start kills the instances left behind.
    log.warn("Second signal: exiting without waiting for instances to stop");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  stack.defer(() => {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  });
  options.signal?.addEventListener("abort", onSignal, { once: true });

  // Bind before the supervisor touches anything, so a busy port fails without side effects;
  // requests that arrive meanwhile wait until the instance table is restored.
  const started = Promise.withResolvers<void>();
  let isStarted = false;
  const handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> =>
    isStarted ? dispatch(req, info) : started.promise.then(() => dispatch(req, info));
  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "0.0.0.0",
    onListen: (addr) => {
      log.info("tenement listening on http://{host}:{port} (domain {domain})", {
        host: addr.hostname,
        port: addr.port,
        domain: options.domain,
      });
      options.onListen?.(addr);
    },
  }, handler);
  // Unwound first: stop accepting new connections while the instances stop.
  stack.defer(() => {
    serverShutdown = server.shutdown();
  });
  await supervisor.start();
  isStarted = true;
  started.resolve();
  if (!stop.signal.aborted) {
    await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve()));
  }
  log.info("Shutting down: stopping instances");
}
