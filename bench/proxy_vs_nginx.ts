/**
 * Side by side (issue #3): a Go backend reached directly, through nginx, and through a real
 * `ten serve` (direct route `bench.hello.localhost` and weighted route `hello.localhost`), driven
 * by `wrk` in interleaved rounds. Prints medians of req/s, p50 and p99 per row, errors, the ratios
 * against nginx and direct, and the added p50 over direct, then the issue's targets with ok/OVER.
 * Never fails on a number; exits non-zero only when it cannot run (no nginx, wrk, go or taskset).
 *
 *     deno run -A bench/proxy_vs_nginx.ts [--duration 5] [--rounds 3] [--conns 50] [--threads 2]
 *       [--rows small,64k,post,ka50] [--diagnose] [--no-pin] [--front-v8-flags FLAGS]
 *       [--nginx-forwarded] [--soak SECONDS] [--json FILE] [--max-seconds 900]
 *
 * Set-up, as in perf-baseline §2: backend, nginx (1 worker) and `ten serve` each pinned to CPU 0
 * (`taskset -c 0`; Go then runs with GOMAXPROCS=1; the daemon's instance inherits the pin), wrk on
 * CPU 1, all on 127.0.0.1. nginx comes from apt (`/usr/sbin/nginx`) with a generated config in a
 * temp dir: `upstream { keepalive 64 }`, `proxy_http_version 1.1`, `proxy_set_header Connection
 * ""`, access log off, and `client_max_body_size 2m` so the 1 MiB upload row is not a 413;
 * `--nginx-forwarded` also makes it add the X-Forwarded-For/-Proto/-Host fields tenement adds (the
 * backend shares the core and parses them: equal work for both). `ten serve` runs the backend as
 * the instance `hello:bench` (spawned through the API, weight 100).
 *
 * `--diagnose` adds two rows: the front alone in a child process (this file with `--role front`, a
 * resolver that points every instance at the backend), and a Deno splice loop (`--role splice`,
 * read/write copies between each client and its own backend connection, no parsing): the floor of
 * what the runtime's socket API allows on this machine.
 *
 * Rows (each with `wrk -t2`, `--latency`):
 * - `small`: GET /, 6-byte body, 10 connections;
 * - `64k`: GET /64k, 64 KiB body, 50 connections;
 * - `post`: POST /sink with a 1 MiB body (wrk Lua script), 50 connections;
 * - `ka50`: GET /, 50 keep-alive connections (the throughput row);
 * - `small1`, `64k1`, `post1`: the first three with one connection (`wrk -t1 -c1`): no queueing,
 *   so the added p50 is what the proxy adds to each exchange.
 * - `https`, `https1`: GET / over HTTPS (50 keep-alive connections, then one), nginx terminating
 *   TLS against tenement's front terminating TLS. `ten serve` takes its certificates from ACME
 *   only, so tenement here is the front alone (`--role front` with `--tls-cert/--tls-key`: a
 *   fixed certificate resolver), as in `--diagnose`'s "front only" row. Both serve the same leaf
 *   from a throwaway CA (`testkit/test_ca.ts`, EC P-256); wrk does not verify it.
 * @module
 */
import { startFrontServer } from "../src/proxy/front_server.ts";
import type { Target, TargetResolver } from "../src/proxy/target.ts";
import {
  checkpoint,
  createTestCa,
  freePort,
  type GroupProcess,
  holdsWithin,
  killGroup,
  onInterrupt,
  print,
  progress,
  RawClient,
  rawGet,
  ROOT,
  sleep,
  startGroup,
  tempDir,
} from "../testkit/mod.ts";
import {
  APPS,
  benchDaemon,
  benchEnv,
  fmt,
  median,
  mib,
  now,
  parseFlags,
  runMain,
  table,
  writeJson,
} from "./lib.ts";

/** The issue's targets. */
export const TARGET_THROUGHPUT_VS_NGINX = 1.0;
export const TARGET_P99_VS_NGINX = 1.25;
export const TARGET_ADDED_P50_MS = 1.5;

const HOST_DIRECT = "bench.hello.localhost";
const HOST_WEIGHTED = "hello.localhost";
const DOMAIN = "localhost";

interface Row {
  readonly name: string;
  readonly label: string;
  readonly path: string;
  readonly conns: number;
  readonly isPost: boolean;
  /** Over HTTPS: only targets with an `httpsPort` take part. */
  readonly isHttps?: boolean;
}

const ROWS: readonly Row[] = [
  { name: "small", label: "small GET (10 conns)", path: "/", conns: 10, isPost: false },
  { name: "64k", label: "64 KiB response", path: "/64k", conns: 50, isPost: false },
  { name: "post", label: "1 MiB POST upload", path: "/sink", conns: 50, isPost: true },
  { name: "ka50", label: "50 keep-alive clients", path: "/", conns: 50, isPost: false },
  // One connection: no queueing, so p50 is the time per exchange and "added p50" what the proxy
  // adds to each request.
  { name: "small1", label: "small GET (1 conn)", path: "/", conns: 1, isPost: false },
  { name: "64k1", label: "64 KiB response (1 conn)", path: "/64k", conns: 1, isPost: false },
  { name: "post1", label: "1 MiB POST upload (1 conn)", path: "/sink", conns: 1, isPost: true },
  // TLS terminated by the proxy; tenement is the front alone here (see the module doc).
  {
    name: "https",
    label: "HTTPS GET (50 conns)",
    path: "/",
    conns: 50,
    isPost: false,
    isHttps: true,
  },
  {
    name: "https1",
    label: "HTTPS GET (1 conn)",
    path: "/",
    conns: 1,
    isPost: false,
    isHttps: true,
  },
];

interface TargetSpec {
  readonly name: string;
  readonly port: number;
  readonly host: string;
  /** Where the same target serves HTTPS, for the HTTPS rows. */
  readonly httpsPort?: number;
}

/** One wrk run. */
interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors plus non-2xx/3xx responses. */
  readonly errors: number;
  readonly requests: number;
}

// ---- the front, as a child process -------------------------------------------------------------

/**
 * `--role front --backend-port P [--tls-cert FILE --tls-key FILE]`: serves until SIGTERM; prints
 * `listening PORT` once up. With a certificate it serves HTTPS with it for every server name.
 */
async function runFront(args: readonly string[]): Promise<void> {
  const backendPort = Number(args[args.indexOf("--backend-port") + 1]);
  const certPath = args.includes("--tls-cert") ? args[args.indexOf("--tls-cert") + 1] : undefined;
  const keyPath = args.includes("--tls-key") ? args[args.indexOf("--tls-key") + 1] : undefined;
  const pair = certPath === undefined || keyPath === undefined
    ? undefined
    : { cert: await Deno.readTextFile(certPath), key: await Deno.readTextFile(keyPath) };
  const target = (service: string, id: string): Target => ({
    service,
    id,
    port: backendPort,
    socketPath: undefined,
    requestTimeoutMs: 30_000,
  });
  let active = 0;
  // What the supervisor does per request, minus the instance table: a target and a counter.
  const resolver: TargetResolver = {
    resolveDirect: (service, id) => Promise.resolve(target(service, id)),
    resolveWeighted: (service) => Promise.resolve(target(service, "bench")),
    beginRequest: () => {
      active++;
      let isDone = false;
      return () => {
        if (isDone) return;
        isDone = true;
        active--;
      };
    },
    waitForRestart: () => Promise.resolve(undefined),
  };
  const front = startFrontServer({
    port: 0,
    hostname: "127.0.0.1",
    domain: DOMAIN,
    resolver,
    ...(pair === undefined ? {} : { tls: { resolver: { resolve: () => Promise.resolve(pair) } } }),
  });
  const done = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => done.resolve());
  print(`listening ${front.addr.port}`);
  await done.promise;
  await front.shutdown({ graceMs: 1_000 });
  if (active !== 0) progress(`front: ${active} requests still counted as active at exit`);
}

/** `--role splice --backend-port P`: the floor, a Deno read/write splice per connection. */
async function runSplice(args: readonly string[]): Promise<void> {
  const backendPort = Number(args[args.indexOf("--backend-port") + 1]);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pump = async (from: Deno.Conn, to: Deno.Conn): Promise<void> => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // Either side went away.
    }
    try {
      from.close();
    } catch { /* closed */ }
    try {
      to.close();
    } catch { /* closed */ }
  };
  Deno.addSignalListener("SIGTERM", () => listener.close());
  print(`listening ${(listener.addr as Deno.NetAddr).port}`);
  for await (const client of listener) {
    client.setNoDelay(true);
    void Deno.connect({ hostname: "127.0.0.1", port: backendPort }).then((up) => {
      up.setNoDelay(true);
      void pump(client, up);
      void pump(up, client);
    }, () => client.close());
  }
}

/** The config of the benchmark's `ten serve`: one service running the backend, never idle. */
function daemonConfig(backendBin: string): string {
  return [
    "[settings]",
    `data_dir = "./data"`,
    "",
    "[service.hello]",
    `command = "${backendBin}"`,
    "idle_timeout = 0",
    `health = "/"`,
    "",
    "[service.hello.env]",
    `GOMAXPROCS = "1"`,
    "",
  ].join("\n");
}

/** VmRSS of one process, KiB. */
async function processRssKib(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

// ---- processes ---------------------------------------------------------------------------------

/** Starts `argv` in its own process group (stderr piped, unread), pinned when `cpu` is given. */
function spawn(
  argv: readonly string[],
  options: { cpu?: string; env?: Record<string, string>; stdout?: "piped" | "null" } = {},
): GroupProcess {
  return startGroup(argv, { ...options, stderr: "piped" });
}

/** The argv of this file in a child process in `role` (front, splice), optionally serving TLS. */
function frontArgv(
  role: string,
  backendPort: number,
  v8Flags: string | undefined,
  tls?: { certPath: string; keyPath: string },
): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    "--config",
    `${ROOT}/deno.json`,
    ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
    `${ROOT}/bench/proxy_vs_nginx.ts`,
    "--role",
    role,
    "--backend-port",
    String(backendPort),
    ...(tls === undefined ? [] : ["--tls-cert", tls.certPath, "--tls-key", tls.keyPath]),
  ];
}

/** Waits until https://127.0.0.1:port (trusting `caCert`) answers `GET /` with a 200. */
async function waitHttps(port: number, host: string, caCert: string): Promise<void> {
  const isUp = await holdsWithin(async () => {
    try {
      const conn = await Deno.connectTls(
        {
          hostname: "127.0.0.1",
          port,
          caCerts: [caCert],
          [Symbol.for("unstableServerName")]: host,
        } as Deno.ConnectTlsOptions,
      );
      using client = RawClient.over(conn, 1_000);
      const res = await client.request("GET", "/", [["Host", host], ["Connection", "close"]]);
      return res.status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 15_000 });
  if (!isUp) throw new Error(`nothing answered HTTPS on 127.0.0.1:${port} within 15 s`);
}

/** Waits until 127.0.0.1:port answers `GET /` with a 200. */
async function waitHttp(port: number, host: string, timeoutMs = 15_000): Promise<void> {
  const isUp = await holdsWithin(
    async () => (await rawGet(port, host, "/", 1_000)).status === 200,
    { timeoutMs },
  );
  if (!isUp) throw new Error(`nothing answered on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

async function which(program: string): Promise<string | null> {
  const res = await new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const path = new TextDecoder().decode(res.stdout).trim();
  return res.success && path !== "" ? path : null;
}

async function commandText(argv: readonly string[]): Promise<string> {
  try {
    const res = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return `${dec.decode(res.stdout)}${dec.decode(res.stderr)}`.trim().split("\n")[0] ?? "";
  } catch {
    return "?";
  }
}

function nginxConfig(
  dir: string,
  ports: { http: number; https: number; backend: number },
  tls: { certPath: string; keyPath: string },
  isForwarding: boolean,
): string {
  // With --nginx-forwarded nginx adds the three X-Forwarded-* fields tenement adds, so the
  // backend (on the same core) parses the same request from both.
  const forwarded = isForwarding
    ? `
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;`
    : "";
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 2m;
  upstream backend {
    server 127.0.0.1:${ports.backend};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${ports.http};
    listen 127.0.0.1:${ports.https} ssl;
    ssl_certificate ${tls.certPath};
    ssl_certificate_key ${tls.keyPath};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";${forwarded}
    }
  }
}
`;
}

const POST_LUA = `wrk.method = "POST"
wrk.body = string.rep("x", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
`;

// ---- wrk ---------------------------------------------------------------------------------------

function parseLatencyMs(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(text);
  if (!m) return NaN;
  const value = Number(m[1]);
  return m[2] === "us" ? value / 1000 : m[2] === "s" ? value * 1000 : value;
}

async function runWrk(
  target: TargetSpec,
  row: Row,
  options: { durationS: number; threads: number; pin: boolean; luaPath: string },
): Promise<WrkResult> {
  await checkpoint();
  const argv = [
    "wrk",
    `-t${Math.min(options.threads, row.conns)}`,
    `-c${row.conns}`,
    `-d${options.durationS}s`,
    "--latency",
    "-H",
    `Host: ${target.host}`,
    ...(row.isPost ? ["-s", options.luaPath] : []),
    `${row.isHttps === true ? "https" : "http"}://127.0.0.1:${
      row.isHttps === true ? target.httpsPort : target.port
    }${row.path}`,
  ];
  const full = options.pin ? ["taskset", "-c", "1", ...argv] : argv;
  const res = await new Deno.Command(full[0]!, {
    args: full.slice(1),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((options.durationS + 30) * 1000),
  }).output();
  const text = new TextDecoder().decode(res.stdout);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const errors = (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
    (non2xx ? Number(non2xx[1]) : 0);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    p50Ms: parseLatencyMs(text, "50%"),
    p99Ms: parseLatencyMs(text, "99%"),
    errors,
    requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? 0),
  };
}

// ---- main --------------------------------------------------------------------------------------

interface Cell {
  rps: number[];
  p50: number[];
  p99: number[];
  errors: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    duration: "number",
    rounds: "number",
    threads: "number",
    conns: "number",
    rows: "string",
    diagnose: "boolean",
    "no-pin": "boolean",
    "front-v8-flags": "string",
    "nginx-forwarded": "boolean",
    soak: "number",
    json: "string",
    "max-seconds": "number",
  });
  const durationS = Number(flags["duration"] ?? 5);
  const rounds = Number(flags["rounds"] ?? 3);
  const threads = Number(flags["threads"] ?? 2);
  const pin = flags["no-pin"] !== true && navigator.hardwareConcurrency >= 2;
  const rowNames = String(flags["rows"] ?? ROWS.map((r) => r.name).join(",")).split(",");
  const rows = ROWS.filter((r) => rowNames.includes(r.name)).map((r) =>
    flags["conns"] !== undefined && r.conns === 50 ? { ...r, conns: Number(flags["conns"]) } : r
  );
  const maxMs = Number(flags["max-seconds"] ?? 900) * 1000;
  const soakS = Number(flags["soak"] ?? 0);
  const t0 = now();

  const tools = { nginx: "/usr/sbin/nginx", wrk: await which("wrk"), go: await which("go") };
  const missing = [
    ...(await Deno.stat(tools.nginx).then(() => [], () => ["nginx (/usr/sbin/nginx, apt)"])),
    ...(tools.wrk === null ? ["wrk (apt)"] : []),
    ...(tools.go === null ? ["go"] : []),
    ...(pin && (await which("taskset")) === null ? ["taskset (util-linux)"] : []),
  ];
  if (missing.length > 0) {
    throw new Error(`Cannot run the proxy benchmark: missing ${missing.join(", ")}`);
  }

  await using tmp = await tempDir("tenement-proxy-bench-");
  const dir = tmp.path;
  progress("building the Go backend …");
  const backendBin = `${dir}/proxy-backend`;
  const build = await new Deno.Command("go", {
    args: ["build", "-o", backendBin, `${APPS}/proxy_backend.go`],
    cwd: dir,
    env: {
      GO111MODULE: "off",
      HOME: Deno.env.get("HOME") ?? dir,
      PATH: Deno.env.get("PATH") ?? "",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!build.success) throw new Error(`go build failed: ${new TextDecoder().decode(build.stderr)}`);
  const luaPath = `${dir}/post.lua`;
  await Deno.writeTextFile(luaPath, POST_LUA);
  // One leaf for both TLS terminators; nginx's master reads it, the front's child too.
  await using ca = await createTestCa("tenement bench CA");
  const leaf = await ca.issue([HOST_DIRECT, "localhost"], "bench");
  await Deno.chmod(leaf.certPath.slice(0, leaf.certPath.lastIndexOf("/")), 0o755);
  await Deno.chmod(leaf.keyPath, 0o644);
  const hasHttpsRows = rows.some((row) => row.isHttps === true);

  const cpu = pin ? "0" : undefined;
  const procs: GroupProcess[] = [];
  let daemonPid = 0;
  let stopDaemon: (() => Promise<void>) | undefined;
  const removeHook = onInterrupt(() => {
    for (const p of procs) killGroup(p.pid, "SIGKILL");
    return Promise.resolve();
  });
  try {
    const backendPort = freePort();
    procs.push(
      spawn([backendBin], {
        ...(cpu === undefined ? {} : { cpu }),
        env: { PORT: String(backendPort) },
      }),
    );
    await waitHttp(backendPort, HOST_DIRECT);

    const nginxPort = freePort();
    const nginxHttpsPort = freePort();
    const nginxDir = `${dir}/nginx`;
    // nginx's worker runs as `nobody`: it must reach the temp dir (0700 from makeTempDir) and
    // write its body buffers (1 MiB uploads are buffered to disk by default).
    await Deno.chmod(dir, 0o755);
    for (const sub of ["", "/body", "/proxy", "/fastcgi", "/uwsgi", "/scgi"]) {
      await Deno.mkdir(`${nginxDir}${sub}`, { recursive: true });
      await Deno.chmod(`${nginxDir}${sub}`, 0o777);
    }
    await Deno.writeTextFile(
      `${nginxDir}/nginx.conf`,
      nginxConfig(
        nginxDir,
        { http: nginxPort, https: nginxHttpsPort, backend: backendPort },
        leaf,
        flags["nginx-forwarded"] === true,
      ),
    );
    procs.push(
      spawn([
        tools.nginx,
        "-p",
        nginxDir,
        "-e",
        `${nginxDir}/error.log`,
        "-c",
        `${nginxDir}/nginx.conf`,
      ], cpu === undefined ? {} : { cpu }),
    );
    await waitHttp(nginxPort, HOST_DIRECT);

    // tenement itself: `ten serve` (bin/ten) pinned like nginx. It starts the backend as the
    // instance hello:bench (inheriting the pin and GOMAXPROCS=1), with weight 100 so the weighted
    // route `hello.localhost` reaches it too.
    const v8Flags = flags["front-v8-flags"] as string | undefined;
    await Deno.mkdir(`${dir}/ten`, { recursive: true });
    const daemon = await benchDaemon(`${dir}/ten`, benchEnv(), daemonConfig(backendBin));
    await daemon.start({
      ...(cpu === undefined ? {} : { cpu }),
      ...(v8Flags ? { v8Flags } : {}),
    });
    daemonPid = daemon.pid;
    stopDaemon = () => daemon[Symbol.asyncDispose]();
    await daemon.spawn("hello", "bench");
    const weight = await daemon.api("PUT", "/api/instances/hello:bench/weight", { weight: 100 });
    if (weight.status !== 200) throw new Error(`weight: ${weight.status} ${weight.body}`);
    await waitHttp(daemon.port, HOST_DIRECT);
    await waitHttp(daemon.port, HOST_WEIGHTED);

    // HTTPS rows: tenement is the front alone with a fixed certificate (see the module doc).
    let frontHttpsPort: number | undefined;
    if (hasHttpsRows) {
      const proc = spawn(frontArgv("front", backendPort, v8Flags, leaf), {
        ...(cpu === undefined ? {} : { cpu }),
        env: { NO_COLOR: "1" },
        stdout: "piped",
      });
      procs.push(proc);
      frontHttpsPort = await readListening(proc);
      await waitHttps(frontHttpsPort, HOST_DIRECT, ca.caCert);
      await waitHttps(nginxHttpsPort, HOST_DIRECT, ca.caCert);
    }
    const targets: TargetSpec[] = [
      { name: "direct", port: backendPort, host: HOST_DIRECT },
      { name: "nginx", port: nginxPort, host: HOST_DIRECT, httpsPort: nginxHttpsPort },
      {
        name: "tenement",
        port: daemon.port,
        host: HOST_DIRECT,
        ...(frontHttpsPort === undefined ? {} : { httpsPort: frontHttpsPort }),
      },
      { name: "tenement weighted", port: daemon.port, host: HOST_WEIGHTED },
    ];
    if (flags["diagnose"] === true) {
      // The front alone with a resolver that points at the backend (no instance table, no
      // metrics), and a Deno splice loop: the floor of Deno's socket API on this machine.
      for (const [name, role] of [["front only", "front"], ["deno splice floor", "splice"]]) {
        const proc = spawn(frontArgv(role!, backendPort, v8Flags), {
          ...(cpu === undefined ? {} : { cpu }),
          env: { NO_COLOR: "1" },
          stdout: "piped",
        });
        procs.push(proc);
        const port = await readListening(proc);
        await waitHttp(port, HOST_DIRECT);
        targets.push({ name: name!, port, host: HOST_DIRECT });
      }
    }
    await printHeader(pin, durationS, rounds, threads, v8Flags);
    progress("warming up …");
    for (const target of targets) {
      await runWrk(target, { ...ROWS[0]!, conns: 50 }, { durationS: 1, threads, pin, luaPath });
      if (hasHttpsRows && target.httpsPort !== undefined) {
        const https = { ...ROWS[0]!, conns: 50, isHttps: true };
        await runWrk(target, https, { durationS: 1, threads, pin, luaPath });
      }
    }

    const cells = new Map<string, Cell>();
    const cell = (row: string, target: string): Cell => {
      const key = `${row}|${target}`;
      let c = cells.get(key);
      if (c === undefined) {
        c = { rps: [], p50: [], p99: [], errors: 0 };
        cells.set(key, c);
      }
      return c;
    };
    const rssBefore = await processRssKib(daemonPid);
    for (let round = 0; round < rounds; round++) {
      for (const row of rows) {
        // Rotate who goes first, so drift in background load hits every target alike.
        const order = targets.map((_, i) => targets[(i + round) % targets.length]!)
          .filter((target) => row.isHttps !== true || target.httpsPort !== undefined);
        for (const target of order) {
          if (now() - t0 > maxMs) {
            progress(`--max-seconds reached; stopping after round ${round}`);
            break;
          }
          progress(`round ${round + 1}/${rounds} · ${row.label} · ${target.name}`);
          const r = await runWrk(target, row, { durationS, threads, pin, luaPath });
          const c = cell(row.name, target.name);
          c.rps.push(r.rps);
          c.p50.push(r.p50Ms);
          c.p99.push(r.p99Ms);
          c.errors += r.errors;
        }
      }
    }
    const rssAfter = await processRssKib(daemonPid);

    const summary = report(rows, targets, cell);
    print(
      `tenement daemon RSS (the ten serve process, not its instance): ` +
        `${fmt(mib(rssBefore))} MiB before the rounds, ` +
        `${fmt(mib(rssAfter))} MiB after`,
    );
    print();

    let soak: SoakResult | undefined;
    if (soakS > 0) soak = await runSoak(daemonPid, daemon.port, soakS, threads, pin);

    const json = flags["json"] as string | undefined;
    if (json) await writeJson(json, { summary, soak, cells: Object.fromEntries(cells) });
  } finally {
    await stopDaemon?.();
    for (const p of procs.reverse()) await p.stop(5_000);
    removeHook();
  }
  print(`(took ${((now() - t0) / 1000).toFixed(0)} s)`);
}

async function readListening(proc: GroupProcess): Promise<number> {
  const reader = proc.child.stdout.getReader();
  const dec = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => reader.cancel().catch(() => {}), 30_000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
      const m = /listening (\d+)/.exec(text);
      if (m) {
        // Keep draining stdout in the background so the child never blocks on it.
        void (async () => {
          try {
            while (!(await reader.read()).done) { /* drain */ }
          } catch {
            // Cancelled at exit.
          }
        })();
        return Number(m[1]);
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`the front did not start:\n${text}`);
}

async function printHeader(
  pin: boolean,
  durationS: number,
  rounds: number,
  threads: number,
  v8Flags: string | undefined,
): Promise<void> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const kernel = await commandText(["uname", "-r"]);
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3);
  print(`# Proxy throughput: direct vs nginx vs tenement (${new Date().toISOString()})`);
  print();
  print(
    `Machine: ${navigator.hardwareConcurrency} cores, ${model}, kernel ${kernel}; ` +
      `deno ${Deno.version.deno}, ${await commandText(["/usr/sbin/nginx", "-v"])}, ` +
      `${await commandText(["go", "version"])}, ${await commandText(["wrk", "-v"])}.`,
  );
  print(
    `Set-up: ${
      pin ? "backend, nginx and tenement pinned to CPU 0, wrk to CPU 1" : "unpinned"
    }; wrk -t${threads} --latency, ${durationS} s per run, ${rounds} interleaved rounds, medians; ` +
      `load average before: ${load.join(" ")}${v8Flags ? `; front v8 flags: ${v8Flags}` : ""}.`,
  );
  print();
}

interface RowSummary {
  readonly row: string;
  readonly throughputVsNginx: number;
  readonly p99VsNginx: number;
  readonly addedP50Ms: number;
  readonly errors: number;
}

/** `a / b` as "1.23x", or "-" when either is missing. */
function ratio(a: number, b: number): string {
  const x = a / b;
  return Number.isFinite(x) ? `${fmt(x, 2)}x` : "-";
}

function report(
  rows: readonly Row[],
  targets: readonly TargetSpec[],
  cell: (row: string, target: string) => Cell,
): RowSummary[] {
  const summary: RowSummary[] = [];
  const lines: string[][] = [];
  for (const row of rows) {
    const direct = cell(row.name, "direct");
    const nginx = cell(row.name, "nginx");
    for (const target of targets) {
      if (row.isHttps === true && target.httpsPort === undefined) continue;
      const c = cell(row.name, target.name);
      const rps = median(c.rps);
      lines.push([
        row.label,
        target.name,
        fmt(rps, 0),
        ratio(rps, median(direct.rps)),
        ratio(rps, median(nginx.rps)),
        fmt(median(c.p50), 2),
        fmt(median(c.p99), 2),
        `${fmt(median(c.p50) - median(direct.p50), 2)}`,
        String(c.errors),
      ]);
    }
    const ten = cell(row.name, "tenement");
    summary.push({
      row: row.label,
      throughputVsNginx: median(ten.rps) / median(nginx.rps),
      p99VsNginx: median(ten.p99) / median(nginx.p99),
      addedP50Ms: median(ten.p50) - median(direct.p50),
      errors: ten.errors,
    });
  }
  print(
    table([
      "row",
      "target",
      "req/s",
      "vs direct",
      "vs nginx",
      "p50 ms",
      "p99 ms",
      "+p50 vs direct ms",
      "errors",
    ], lines),
  );
  print();
  print("Against the targets (tenement direct route vs nginx):");
  print();
  print(
    table(
      [
        "row",
        "throughput vs nginx (≥ 1.0)",
        "p99 vs nginx (≤ 1.25)",
        "added p50 (≤ 1.5 ms)",
        "errors (0)",
      ],
      summary.map((s) => [
        s.row,
        `${fmt(s.throughputVsNginx, 2)}x ${
          s.throughputVsNginx >= TARGET_THROUGHPUT_VS_NGINX ? "ok" : "OVER"
        }`,
        `${fmt(s.p99VsNginx, 2)}x ${s.p99VsNginx <= TARGET_P99_VS_NGINX ? "ok" : "OVER"}`,
        Number.isFinite(s.addedP50Ms) // No direct HTTPS row to compare with.
          ? `${fmt(s.addedP50Ms, 2)} ${s.addedP50Ms <= TARGET_ADDED_P50_MS ? "ok" : "OVER"}`
          : "-",
        `${s.errors} ${s.errors === 0 ? "ok" : "OVER"}`,
      ]),
    ),
  );
  print();
  return summary;
}

interface SoakResult {
  readonly seconds: number;
  readonly rssMib: number[];
  readonly driftPercent: number;
}

/** 50 keep-alive clients for `seconds`, RSS of the daemon read every 10 s. */
async function runSoak(
  pid: number,
  port: number,
  seconds: number,
  threads: number,
  pin: boolean,
): Promise<SoakResult> {
  progress(`soak: 50 clients for ${seconds} s …`);
  const argv = [
    "wrk",
    `-t${threads}`,
    "-c50",
    `-d${seconds}s`,
    "-H",
    `Host: ${HOST_DIRECT}`,
    `http://127.0.0.1:${port}/`,
  ];
  const full = pin ? ["taskset", "-c", "1", ...argv] : argv;
  const run = new Deno.Command(full[0]!, {
    args: full.slice(1),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((seconds + 30) * 1000),
  }).output();
  const samples: number[] = [];
  const started = now();
  let isRunning = true;
  void run.finally(() => isRunning = false);
  while (isRunning && now() - started < (seconds + 5) * 1000) {
    await sleep(10_000);
    if (!isRunning) break;
    samples.push(mib(await processRssKib(pid)));
  }
  const out = new TextDecoder().decode((await run).stdout);
  const settled = samples.slice(Math.min(1, samples.length - 1));
  const first = settled[0] ?? NaN;
  const last = settled.at(-1) ?? NaN;
  const driftPercent = ((last - first) / first) * 100;
  print(
    `Soak, 50 clients for ${seconds} s: ${
      /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? "?"
    } req/s; ` +
      `daemon RSS every 10 s (MiB): ${samples.map((x) => fmt(x)).join(" ")}; drift from the ` +
      `first settled reading to the last ${fmt(driftPercent)}% (target ±10%)`,
  );
  print();
  return { seconds, rssMib: samples, driftPercent };
}

if (Deno.args[0] === "--role" && Deno.args[1] === "front") {
  await runFront(Deno.args);
} else if (Deno.args[0] === "--role" && Deno.args[1] === "splice") {
  await runSplice(Deno.args);
} else if (import.meta.main) {
  await runMain(main);
}
