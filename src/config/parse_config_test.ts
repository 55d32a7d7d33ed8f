import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { ConfigError, ConfigErrors, InvalidInputError } from "../core/errors.ts";
import { parentDir, resolvePath } from "./config_paths.ts";
import { parseConfig, type ParseConfigOptions } from "./parse_config.ts";
import type { ServiceConfig } from "./schema.ts";

const OPTIONS: ParseConfigOptions = { path: "tenement.toml", cwd: "/srv/app" };

/** The messages of every problem `text` has, or fails when it parses. */
function problemsOf(text: string, options: ParseConfigOptions = OPTIONS): string[] {
  try {
    parseConfig(text, options);
  } catch (error: unknown) {
    ok(error instanceof ConfigErrors, `expected ConfigErrors, got ${String(error)}`);
    ok(error.errors.every((e) => e instanceof ConfigError));
    return error.errors.map((e) => e.message);
  }
  throw new Error(`expected problems in:\n${text}`);
}

const SAMPLE = `[settings]
data_dir = "./data"
health_check_interval = 5
[service.notes]
command = "python3 app.py"
health = "/health"
idle_timeout = 300
env = { DATA_DIR = "{data_dir}/{name}/{id}" }
[service.api]
command = "node"
args = ["server.mjs", "--port", "{port}"]
restart = "always"
[service.api.env]
LOG_LEVEL = "info"
[instances]
notes = ["alice", "bob"]
`;

Deno.test("parseConfig() reads the sample config into resolved values", () => {
  const config = parseConfig(SAMPLE, OPTIONS);
  equal(config.path, "/srv/app/tenement.toml");
  equal(config.dir, "/srv/app");
  equal(config.settings.dataDir, "/srv/app/data");
  equal(config.settings.healthCheckIntervalMs, 5000);
  deepEqual([...config.services.keys()], ["notes", "api"]);
  const notes = config.services.get("notes");
  const api = config.services.get("api");
  ok(notes !== undefined && api !== undefined);
  equal(notes.command, "python3 app.py");
  deepEqual(notes.args, []);
  equal(notes.health, "/health");
  equal(notes.idleTimeoutMs, 300_000);
  deepEqual(notes.env, { DATA_DIR: "{data_dir}/{name}/{id}" });
  equal(notes.workdir, "/srv/app");
  equal(api.command, "node");
  deepEqual(api.args, ["server.mjs", "--port", "{port}"]);
  equal(api.restart, "always");
  equal(api.health, undefined);
  deepEqual(api.env, { LOG_LEVEL: "info" });
  deepEqual([...config.instances], [["notes", ["alice", "bob"]]]);
});

Deno.test("parseConfig() fills every default", () => {
  const config = parseConfig('[service.app]\ncommand = "./app"\n', OPTIONS);
  deepEqual(config.settings, {
    dataDir: "/srv/app/tenement-data",
    healthCheckIntervalMs: 10_000,
    maxRestarts: 3,
    restartWindowMs: 300_000,
    backoffBaseMs: 1000,
    backoffMaxMs: 60_000,
    backoffResetMs: 60_000,
    portRangeStart: 30000,
    portRangeEnd: 40000,
    maxConcurrentStarts: 0,
    maxAwake: 0,
    wakeRatePerClient: { count: 30, windowMs: 60_000 },
    autoCreateRatePerClient: { count: 10, windowMs: 60_000 },
    trustedProxies: [],
    firstByteTimeoutMs: 10_000,
    maxConnections: 10_000,
    maxConnectionsPerClient: 256,
    metricsBind: undefined,
    metricsInstanceLabel: true,
    defaultUser: "inherit",
    autoUserRange: { start: 61184, end: 65519 },
    cgroupRoot: "/sys/fs/cgroup",
    logRetentionMs: 7 * 86_400_000,
    logMaxSizeBytes: 1024 * 1024 * 1024,
    tls: {
      enabled: false,
      acmeEmail: undefined,
      domain: undefined,
      cacheDir: "/srv/app/tenement-data/.tenement/acme",
      staging: false,
      httpsPort: 443,
      httpPort: 80,
      dnsProvider: undefined,
      acmeDirectory: undefined,
      acmeCaCert: undefined,
      dnsHook: undefined,
      dnsPropagationCheck: true,
    },
  });
  const expected: ServiceConfig = {
    name: "app",
    command: "./app",
    args: [],
    health: undefined,
    isolation: "process",
    user: "inherit",
    env: {},
    envClear: false,
    envPassthrough: [],
    workdir: "/srv/app",
    socket: "{data_dir}/run/{name}.{id}/app.sock",
    restart: "on-failure",
    idleTimeoutMs: 0,
    startupTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    stopGracePeriodMs: 10_000,
    memoryLimitMb: undefined,
    cpuShares: undefined,
    pidsLimit: undefined,
    storageQuotaMb: undefined,
    storagePersist: true,
    image: undefined,
    mounts: [],
    network: "host",
    rootfs: undefined,
    autoCreate: true,
    autoCreateLimit: 100,
    autoCreatePerMinute: 60,
    autoCreateAllow: [],
    autoCreateForgetAfterMs: 7 * 86_400_000,
    maxAwake: 0,
    maxQueuedRequests: 256,
    sharedRoute: true,
  };
  deepEqual(config.services.get("app"), expected);
  deepEqual(config.instances, new Map());
  deepEqual(config.routing, { defaultService: undefined, subdomain: new Map(), path: new Map() });
});

Deno.test("parseConfig() reads every key of a full config", () => {
  const text = `
[settings]
data_dir = "/var/lib/tenement"
health_check_interval = 0.5
max_restarts = 5
restart_window = 60
backoff_base_ms = 200
backoff_max_ms = 5000
backoff_reset_secs = 0
port_range_start = 20000
port_range_end = 20010
max_concurrent_starts = 4
trusted_proxies = ["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8"]
first_byte_timeout = 2.5
max_connections = 5000
max_connections_per_client = 64

[settings.tls]
enabled = true
acme_email = "ops@example.com"
domain = "example.com"
cache_dir = "certs"
https_port = 8443
http_port = 8080
dns_provider = "cloudflare"
acme_directory = "https://ca.example.net/dir"
acme_ca_cert = "ca.pem"
dns_hook = "hooks/dns"
dns_propagation_check = false

[service.web]
command = "./web"
isolation = "sandbox"
workdir = "../web"
socket = "/run/{name}/{id}.sock"
restart = "never"
idle_timeout = 1.5
startup_timeout = 20
request_timeout = 60
stop_grace_period_secs = 0
memory_limit_mb = 512
cpu_shares = 200
storage_quota_mb = 1024
storage_persist = false
image = "alpine:3"
rootfs = "rootfs"
kernel = "vmlinux"
memory_mb = 256
vcpus = 2
vsock_port = 5000
auto_create = false
auto_create_limit = 10
auto_create_per_minute = 5
auto_create_allow = ["a", "b"]
max_queued_requests = 8

[[service.web.mounts]]
source = "./shared"
destination = "/shared"
readonly = true

[[service.web.mounts]]
source = "/abs"
destination = "/abs"

[service.1st]
command = "./first"

[routing]
default = "web"
[routing.subdomain]
www = "web"
[routing.path]
"/first" = "1st"
`;
  const config = parseConfig(text, OPTIONS);
  const s = config.settings;
  equal(s.dataDir, "/var/lib/tenement");
  equal(s.healthCheckIntervalMs, 500);
  deepEqual(
    [s.maxRestarts, s.restartWindowMs, s.backoffBaseMs, s.backoffMaxMs, s.backoffResetMs],
    [5, 60_000, 200, 5000, 0],
  );
  deepEqual([s.portRangeStart, s.portRangeEnd, s.maxConcurrentStarts], [20000, 20010, 4]);
  deepEqual(s.trustedProxies, ["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8"]);
  deepEqual([s.firstByteTimeoutMs, s.maxConnections, s.maxConnectionsPerClient], [2500, 5000, 64]);
  deepEqual(s.tls, {
    enabled: true,
    acmeEmail: "ops@example.com",
    domain: "example.com",
    cacheDir: "/srv/app/certs",
    staging: false,
    httpsPort: 8443,
    httpPort: 8080,
    dnsProvider: "cloudflare",
    acmeDirectory: "https://ca.example.net/dir",
    acmeCaCert: "/srv/app/ca.pem",
    dnsHook: "/srv/app/hooks/dns",
    dnsPropagationCheck: false,
  });
  const web = config.services.get("web");
  ok(web !== undefined);
  equal(web.isolation, "sandbox");
  equal(web.workdir, "/srv/web");
  equal(web.socket, "/run/{name}/{id}.sock");
  equal(web.restart, "never");
  deepEqual(
    [web.idleTimeoutMs, web.startupTimeoutMs, web.requestTimeoutMs, web.stopGracePeriodMs],
    [1500, 20_000, 60_000, 0],
  );
  deepEqual([web.memoryLimitMb, web.cpuShares, web.storageQuotaMb], [512, 200, 1024]);
  equal(web.storagePersist, false);
  equal(web.image, "alpine:3");
  equal(web.rootfs, "/srv/app/rootfs");
  deepEqual(web.mounts, [
    { source: "/srv/app/shared", destination: "/shared", readonly: true },
    { source: "/abs", destination: "/abs", readonly: false },
  ]);
  deepEqual(
    [web.autoCreate, web.autoCreateLimit, web.autoCreatePerMinute, web.maxQueuedRequests],
    [false, 10, 5, 8],
  );
  deepEqual(web.autoCreateAllow, ["a", "b"]);
  deepEqual([...config.services.keys()], ["web", "1st"]);
  deepEqual(config.routing, {
    defaultService: "web",
    subdomain: new Map([["www", "web"]]),
    path: new Map([["/first", "1st"]]),
  });
});

Deno.test("parseConfig() keeps services in file order even with integer-like names", () => {
  const config = parseConfig('[service.b]\ncommand = "x"\n[service.42]\ncommand = "y"\n', OPTIONS);
  deepEqual([...config.services.keys()], ["b", "42"]);
});

Deno.test("parseConfig() applies a data dir override, relative to cwd", () => {
  const withFlag = parseConfig(SAMPLE, {
    ...OPTIONS,
    cwd: "/home/me",
    path: "/srv/app/tenement.toml",
    dataDirOverride: { value: "other", source: "--data-dir" },
  });
  equal(withFlag.settings.dataDir, "/home/me/other");
  equal(withFlag.settings.tls.cacheDir, "/home/me/other/.tenement/acme");
  equal(withFlag.dir, "/srv/app");
  const absolute = parseConfig(SAMPLE, {
    ...OPTIONS,
    dataDirOverride: { value: "/data", source: "TENEMENT_DATA_DIR" },
  });
  equal(absolute.settings.dataDir, "/data");
});

Deno.test("parseConfig() rejects a data dir starting with ~ and names its source", () => {
  throws(
    () =>
      parseConfig(SAMPLE, { ...OPTIONS, dataDirOverride: { value: "~/d", source: "--data-dir" } }),
    (error: unknown) => {
      ok(error instanceof InvalidInputError);
      equal(error.message, '--data-dir is "~/d": tilde is not expanded, use an absolute path');
      return true;
    },
  );
  deepEqual(problemsOf('[settings]\ndata_dir = "~/data"\n'), [
    'tenement.toml:2:1: data_dir in tenement.toml is "~/data": tilde is not expanded, use an absolute path',
  ]);
  // An override replaces the file's value, so the file's "~" no longer matters.
  const config = parseConfig('[settings]\ndata_dir = "~/data"\n', {
    ...OPTIONS,
    dataDirOverride: { value: "/d", source: "--data-dir" },
  });
  equal(config.settings.dataDir, "/d");
});

Deno.test("parseConfig() accepts stop_grace_period_secs as an alias", () => {
  const config = parseConfig('[service.a]\ncommand = "x"\nstop_grace_period_secs = 3\n', OPTIONS);
  equal(config.services.get("a")?.stopGracePeriodMs, 3000);
});

/** [config text, expected "file:line:col: problem" prefix of the only message]. */
const BAD_CONFIGS: [string, string][] = [
  [
    '[service.notes]\ncommand = "x"\n\n\n\n\nidle_timout = 5\n',
    'tenement.toml:7:1: unknown key "idle_timout" in [service.notes] (did you mean "idle_timeout"?)',
  ],
  [
    '[service.notes]\ncommand = "x"\nidle_timeout = "5m"\n',
    'tenement.toml:3:1: invalid value for "service.notes.idle_timeout": expected a number of seconds, got a string ("5m")',
  ],
  [
    '[servce.notes]\ncommand = "x"\n',
    'tenement.toml:1:1: unknown key "servce" at the top level (did you mean "service"?)',
  ],
  [
    '[process.notes]\ncommand = "x"\n',
    'tenement.toml:1:1: unknown key "process" at the top level (use [service.notes] instead of [process.notes])',
  ],
  [
    '[settings]\ndata_dri = "x"\n',
    'tenement.toml:2:1: unknown key "data_dri" in [settings] (did you mean "data_dir"?)',
  ],
  [
    "[settings]\nhealth_check_interval = 0\n",
    'tenement.toml:2:1: invalid value for "settings.health_check_interval": expected a number of seconds greater than 0, got 0',
  ],
  [
    "[settings]\nmax_restarts = -1\n",
    'tenement.toml:2:1: invalid value for "settings.max_restarts": expected a whole number, got -1',
  ],
  [
    "[settings]\nport_range_start = 70000\n",
    'tenement.toml:2:1: invalid value for "settings.port_range_start": expected a port number from 1 to 65535, got 70000',
  ],
  [
    "[settings]\nport_range_start = 5000\nport_range_end = 4000\n",
    'tenement.toml:2:1: "settings.port_range_start" (5000) must not be greater than "settings.port_range_end" (4000)',
  ],
  [
    "[settings]\nbackoff_base_ms = 5000\nbackoff_max_ms = 1000\n",
    'tenement.toml:3:1: "settings.backoff_max_ms" (1000) must be at least "settings.backoff_base_ms" (5000)',
  ],
  [
    "[settings.tls]\nhttps_port = 8443\nhttp_port = 8443\n",
    'tenement.toml:3:1: "settings.tls.http_port" and "settings.tls.https_port" are both 8443: they must differ',
  ],
  [
    '[settings.tls]\nacme_email = "ops@@example.com"\n',
    'tenement.toml:2:1: ACME email "ops@@example.com" must contain exactly one @',
  ],
  [
    '[settings.tls]\ndomain = "localhost"\n',
    "tenement.toml:2:1: TLS cannot be used with localhost",
  ],
  [
    '[settings.tls]\nacme_directory = "http://127.0.0.1:14000/dir"\n',
    'tenement.toml:2:1: ACME directory "http://127.0.0.1:14000/dir" must be an https:// URL',
  ],
  [
    '[settings.tls]\nstaging = true\nacme_directory = "https://ca.example.net/dir"\n',
    'tenement.toml:2:1: "settings.tls.staging" and "settings.tls.acme_directory" both pick the ACME server',
  ],
  [
    "[settings.tls]\nstagin = true\n",
    'tenement.toml:2:1: unknown key "stagin" in [settings.tls] (did you mean "staging"?)',
  ],
  [
    '[service.notes]\ncommand = "x"\nisolation = "procss"\n',
    'tenement.toml:3:1: invalid value for "service.notes.isolation": expected one of "process", "namespace", "sandbox", "litebox", "quark", "firecracker", "qemu", got "procss" (did you mean "process"?)',
  ],
  [
    '[service.notes]\ncommand = "x"\nrestart = "alway"\n',
    'tenement.toml:3:1: invalid value for "service.notes.restart": expected one of "always", "on-failure", "never", got "alway" (did you mean "always"?)',
  ],
  [
    '[service.notes]\ncommand = "x"\nhealth = "health"\n',
    'tenement.toml:3:1: invalid value for "service.notes.health": expected a path starting with "/" (e.g. "/health"), got "health"',
  ],
  [
    '[service."a.b"]\ncommand = "x"\n',
    'tenement.toml:1:1: invalid service name "a.b": contains "." (allowed: letters, digits, "-" and "_")',
  ],
  [
    '[service.acme]\ncommand = "x"\n',
    'tenement.toml:1:1: invalid service name "acme": reserved (instance data dirs are {data_dir}/{service}/{id}, and {data_dir}/acme held built-in HTTPS\'s certificates and private keys before they moved to {data_dir}/.tenement/acme); pick another name',
  ],
  [
    '[service.Run]\ncommand = "x"\n',
    'tenement.toml:1:1: invalid service name "Run": reserved (instance data dirs are {data_dir}/{service}/{id}, and {data_dir}/run holds the instances\' sockets); pick another name',
  ],
  [
    '[service.notes]\nhealth = "/health"\n',
    'tenement.toml:1:1: missing required key "command" in [service.notes]',
  ],
  [
    '[service.notes]\ncommand = "x"\nenv = { PORT = 8080 }\n',
    'tenement.toml:3:9: invalid value for "service.notes.env.PORT": expected a string, got 8080 (quote it: PORT = "8080")',
  ],
  [
    '[service.notes]\ncommand = "x"\n[service.notes.env]\nDEBUG = true\n',
    'tenement.toml:4:1: invalid value for "service.notes.env.DEBUG": expected a string, got true (quote it: DEBUG = "true")',
  ],
  [
    '[service.notes]\ncommand = "x"\n[instances]\nnote = ["alice"]\n',
    "tenement.toml:4:1: Instance list references undefined service 'note'. Define it in [service.note] first (did you mean \"notes\"?)",
  ],
  [
    '[service.notes]\ncommand = "x"\n[instances]\nnotes = ["alice", "a b"]\n',
    'tenement.toml:4:19: invalid instance id "a b" in "instances.notes": contains a space',
  ],
  [
    '[service.notes]\ncommand = "x"\n[instances]\nnotes = ["alice", "bob", "alice"]\n',
    'tenement.toml:4:26: duplicate instance id "alice" in "instances.notes" (ids are case-insensitive, like host names)',
  ],
  [
    '[service.notes]\ncommand = "x"\n[instances]\nnotes = ["Bob", "bob"]\n',
    'tenement.toml:4:17: duplicate instance id "bob" in "instances.notes" (ids are case-insensitive, like host names)',
  ],
  [
    '[service.notes]\ncommand = "x"\n[instances]\nnotes = "alice"\n',
    'tenement.toml:4:1: invalid value for "instances.notes": expected an array of instance ids',
  ],
  [
    '[service.notes]\ncommand = "x"\nauto_create_allow = ["ok", "not/ok"]\n',
    'tenement.toml:3:28: invalid instance id "not/ok" in "service.notes.auto_create_allow": contains "/"',
  ],
  [
    '[settings]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/33"]\n',
    'tenement.toml:2:33: invalid entry "10.0.0.0/33" in "settings.trusted_proxies": the prefix length must be from 0 to 32 for IPv4',
  ],
  [
    '[settings]\ntrusted_proxies = ["caddy"]\n',
    'tenement.toml:2:20: invalid entry "caddy" in "settings.trusted_proxies": expected an IP address or CIDR range, not a host name',
  ],
  [
    '[settings]\ntrusted_proxies = "127.0.0.1"\n',
    'tenement.toml:2:1: invalid value for "settings.trusted_proxies": expected an array of strings, got a string ("127.0.0.1")',
  ],
  [
    "[settings]\nmax_connections_per_client = -1\n",
    'tenement.toml:2:1: invalid value for "settings.max_connections_per_client": expected a whole number, got -1',
  ],
  [
    '[service.notes]\ncommand = "x"\nstartup_timeout = -5\n',
    'tenement.toml:3:1: invalid value for "service.notes.startup_timeout": expected a number of seconds greater than 0, got -5',
  ],
  [
    '[service.notes]\ncommand = "x"\nargs = "--port 1"\n',
    'tenement.toml:3:1: invalid value for "service.notes.args": expected an array of strings, got a string ("--port 1")',
  ],
  [
    '[service.notes]\ncommand = ""\n',
    'tenement.toml:2:1: invalid value for "service.notes.command": expected a non-empty string, got ""',
  ],
  [
    '[service.notes]\ncommand = "x"\n\n[[service.notes.mounts]]\nsource = "a"\ndestinaton = "/a"\n',
    'tenement.toml:6:1: unknown key "destinaton" in [[service.notes.mounts]] (did you mean "destination"?)',
  ],
  [
    '[service.notes]\ncommand = "x"\n\n[[service.notes.mounts]]\nsource = "/a"\ndestination = "a"\n',
    'tenement.toml:6:1: invalid destination "a" in [[service.notes.mounts]]: expected an absolute path inside the sandbox, e.g. "/srv/shared"',
  ],
  [
    '[service.notes]\ncommand = "x"\nnetwork = "none"\n',
    'tenement.toml:3:1: network = "none" needs isolation = "sandbox" (isolation = "process" shares the host\'s network); set isolation = "sandbox" or remove network',
  ],
  [
    '[service.notes]\ncommand = "x"\nisolation = "sandbox"\nnetwork = "off"\n',
    'tenement.toml:4:1: invalid value for "service.notes.network": expected one of "host", "none", got "off"',
  ],
  [
    '[service.notes]\ncommand = "x"\nstop_grace_period = 1\nstop_grace_period_secs = 2\n',
    'tenement.toml:4:1: "stop_grace_period_secs" is another name for "stop_grace_period": set only one of them',
  ],
  [
    '[service.notes]\ncommand = "x"\nmemory_limit_mb = 1.5\n',
    'tenement.toml:3:1: invalid value for "service.notes.memory_limit_mb": expected a whole number of megabytes, got 1.5',
  ],
  [
    '[service.notes]\ncommand = "x"\n[routing]\ndefault = "note"\n',
    'tenement.toml:4:1: "routing.default" refers to undefined service "note" (did you mean "notes"?)',
  ],
  [
    '[service.notes]\ncommand = "x"\n[routing.path]\napi = "notes"\n',
    'tenement.toml:4:1: invalid path prefix "api" in [routing.path]: expected a path starting with "/"',
  ],
  [
    "[settings]\nhealth_check_interval = 5\n[service.notes\n",
    "tenement.toml:3:15: invalid TOML:",
  ],
  [
    "[service.a]\ncommand = 'x'\n[service.a]\ncommand = 'y'\n",
    "tenement.toml:3:2: invalid TOML: trying to redefine an already defined table or value",
  ],
  ["service = 5\n", 'tenement.toml:1:1: invalid value for "service": expected a table, got 5'],
];

Deno.test("parseConfig() reports each bad config at its line and column", async (t) => {
  ok(BAD_CONFIGS.length >= 20);
  for (const [text, expected] of BAD_CONFIGS) {
    await t.step(expected, () => {
      const problems = problemsOf(text);
      equal(problems.length, 1, problems.join("\n"));
      ok(problems[0]!.startsWith(expected), `${problems[0]}\n  does not start with\n${expected}`);
    });
  }
});

Deno.test("parseConfig() lists every problem, sorted by position, not just the first", () => {
  const text = `[settings]
health_check_interval = "fast"
port_range_end = 0

[service.notes]
comand = "python3 app.py"
idle_timeout = -1
isolation = "sandbx"

[service.api]
command = "node"
env = { DEBUG = false }

[instances]
notes = ["alice", "alice"]
ghost = ["x"]
`;
  const error = (() => {
    try {
      parseConfig(text, OPTIONS);
    } catch (caught: unknown) {
      return caught;
    }
  })();
  ok(error instanceof ConfigErrors);
  deepEqual(
    error.errors.map((e) => [e.at.line, e.at.column, e.at.key]),
    [
      [2, 1, "settings.health_check_interval"],
      [3, 1, "settings.port_range_end"],
      [6, 1, "service.notes.comand"],
      [7, 1, "service.notes.idle_timeout"],
      [8, 1, "service.notes.isolation"],
      [12, 9, "service.api.env.DEBUG"],
      [15, 19, "instances.notes[1]"],
      [16, 1, "instances.ghost"],
    ],
  );
  ok(error.message.startsWith("8 problems in config:\n  tenement.toml:2:1: "));
  ok(error.errors[2]!.message.includes('(did you mean "command"?)'));
});

Deno.test("parseConfig() uses the path as given in messages", () => {
  const problems = problemsOf("[service.a]\n", { path: "conf/my.toml", cwd: "/srv" });
  deepEqual(problems, [
    'conf/my.toml:1:1: missing required key "command" in [service.a] (e.g. command = "python3 app.py")',
  ]);
});

Deno.test("resolvePath() and parentDir() work on plain strings", () => {
  equal(resolvePath("/a/b", "c"), "/a/b/c");
  equal(resolvePath("/a/b", "../../../c"), "/c");
  equal(resolvePath("/a/b", "."), "/a/b");
  equal(resolvePath("/", "x/"), "/x");
  equal(parentDir("/a/b/c"), "/a/b");
  equal(parentDir("/"), "/");
});

Deno.test("parseConfig() reads env_clear and env_passthrough", () => {
  const config = parseConfig(
    `[service.app]\ncommand = "./app"\nenv_clear = true\nenv_passthrough = ["GOCACHE", "NVM_DIR"]\n`,
    OPTIONS,
  );
  const app = config.services.get("app");
  ok(app !== undefined);
  equal(app.envClear, true);
  deepEqual(app.envPassthrough, ["GOCACHE", "NVM_DIR"]);
});

Deno.test("parseConfig() rejects env_passthrough names that are invalid or never passed", () => {
  const problems = problemsOf(`[service.app]
command = "./app"
env_passthrough = ["OK", "A=B", "TENEMENT_TOKEN", "SSH_AUTH_SOCK"]
`);
  equal(problems.length, 3);
  ok(problems[0]?.startsWith("tenement.toml:3:"), problems[0]);
  ok(problems[0]?.includes('invalid environment variable name "A=B"'), problems[0]);
  ok(problems[1]?.includes('"TENEMENT_TOKEN"') && problems[1].includes("never passed"));
  ok(problems[2]?.includes('"SSH_AUTH_SOCK"') && problems[2].includes("never passed"));
});

Deno.test("parseConfig() warns at file:line about a socket template two instances can share", () => {
  const config = parseConfig(
    `[service.a]
command = "./a"
socket = "/run/{name}-{id}.sock"

[service.b]
command = "./b"
socket = "/run/b.sock"

[service.c]
command = "./c"
socket = "/run/{name}/{id}.sock"

[service.d]
command = "./d"
`,
    OPTIONS,
  );
  const messages = (config.warnings ?? []).map((w) => w.message);
  equal(messages.length, 2, messages.join("\n"));
  ok(messages[0]?.startsWith('tenement.toml:3:1: "service.a.socket"'), messages[0]);
  ok(messages[0]?.includes("notes:a-b and notes-a:b"), messages[0]);
  ok(messages[1]?.startsWith('tenement.toml:7:1: "service.b.socket"'), messages[1]);
  ok(messages[1]?.includes("no {id}"), messages[1]);
});

Deno.test("parseConfig() refuses {id} in a path while any Host name may create an instance", () => {
  const text = `[service.notes]
command = "python3 /srv/{id}/app.py"
args = ["--db", "{data_dir}/{id}/app.db", "--log=/var/log/{id}.log"]
auto_create = true
[service.notes.env]
CACHE = "/tmp/{id}/cache"
DATA_DIR = "{data_dir}/{name}/{id}"
`;
  const tail = "uses {id} in a path while auto_create is on with no auto_create_allow: any Host " +
    "name then chooses a path; list the ids in auto_create_allow, or keep per-instance files in " +
    'the instance dir (env DATA_DIR = "{data_dir}/{name}/{id}")';
  deepEqual(problemsOf(text), [
    `tenement.toml:2:1: "service.notes.command" = "python3 /srv/{id}/app.py" ${tail}`,
    `tenement.toml:3:17: "service.notes.args[1]" = "{data_dir}/{id}/app.db" ${tail}`,
    `tenement.toml:3:43: "service.notes.args[2]" = "--log=/var/log/{id}.log" ${tail}`,
    `tenement.toml:6:1: "service.notes.env.CACHE" = "/tmp/{id}/cache" ${tail}`,
  ]);
});

Deno.test("parseConfig() accepts {id} paths with an allow list, without auto_create, or in the instance dir", async (t) => {
  const cases: [what: string, keys: string][] = [
    ["auto_create_allow", 'auto_create = true\nauto_create_allow = ["alice"]'],
    ["auto_create off", "auto_create = false"],
  ];
  for (const [what, keys] of cases) {
    await t.step(what, () => {
      const config = parseConfig(
        `[service.notes]\ncommand = "app"\nargs = ["{data_dir}/{id}/app.db"]\n${keys}\n`,
        OPTIONS,
      );
      deepEqual(config.services.get("notes")?.args, ["{data_dir}/{id}/app.db"]);
    });
  }
  await t.step("the instance dir, and {id} that is not a path", () => {
    const config = parseConfig(
      `[service.notes]
command = "app --tenant={id}"
args = ["--db={data_dir}/{name}/{id}/app.db", "{data_dir}/notes/{id}"]
env = { DATA_DIR = "{data_dir}/{name}/{id}", TENANT = "{id}" }
auto_create = true
`,
      OPTIONS,
    );
    equal(config.services.get("notes")?.autoCreate, true);
  });
});

Deno.test("parseConfig() refuses ids and service names that start with - or _", () => {
  deepEqual(problemsOf('[service._notes]\ncommand = "app"\n[instances]\n_notes = ["-rf"]\n'), [
    'tenement.toml:1:1: invalid service name "_notes": starts with "_" (it must start with a letter or digit)',
    'tenement.toml:4:11: invalid instance id "-rf" in "instances._notes": starts with "-" (it must start with a letter or digit)',
  ]);
});

Deno.test("parseConfig reads pids_limit and cgroup_root, and rejects bad values at their line", () => {
  const config = parseConfig(
    '[settings]\ncgroup_root = "/srv/cg"\n[service.app]\ncommand = "./app"\npids_limit = 20\n',
    OPTIONS,
  );
  equal(config.services.get("app")?.pidsLimit, 20);
  equal(config.settings.cgroupRoot, "/srv/cg");
  const problems = problemsOf(
    '[settings]\ncgroup_root = "cg"\n[service.app]\ncommand = "./app"\npids_limit = 0\n',
  );
  equal(problems.length, 2);
  ok(problems[0]!.includes(':2:1: "settings.cgroup_root" must be an absolute path'), problems[0]);
  ok(problems[1]!.includes(":5:"), problems[1]);
  ok(problems[1]!.includes("pids_limit"), problems[1]);
});

Deno.test("parseConfig reads log_retention and log_max_size_mb, and rejects bad values at their line", () => {
  const config = parseConfig('[settings]\nlog_retention = "12h"\nlog_max_size_mb = 0\n', OPTIONS);
  equal(config.settings.logRetentionMs, 12 * 3_600_000);
  equal(config.settings.logMaxSizeBytes, 0);
  const problems = problemsOf('[settings]\nlog_retention = "a week"\nlog_max_size_mb = -1\n');
  equal(problems.length, 2);
  ok(problems[0]!.includes(':2:1: invalid value for "settings.log_retention"'), problems[0]);
  ok(problems[1]!.includes(':3:1: invalid value for "settings.log_max_size_mb"'), problems[1]);
});
