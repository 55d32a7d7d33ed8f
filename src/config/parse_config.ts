/**
 * `tenement.toml` text → a validated {@link Config}, or one {@link ConfigErrors} that lists every
 * problem found, each with its `file:line:column` and dotted key path. Pure given the text: no
 * I/O and no Deno APIs; `load_config.ts` does the reading.
 * @module
 */
import { parse, TomlError } from "smol-toml";
import { ConfigError, ConfigErrors, InvalidInputError } from "../core/errors.ts";
import { nameProblem } from "../core/instance_key.ts";
import {
  badValue,
  BOOLEAN,
  type Context,
  didYouMean,
  type Field,
  HTTP_PATH,
  isMissing,
  isTable,
  keysInFileOrder,
  oneOf,
  readTable,
  report,
  seconds,
  STRING_LIST,
  TABLE,
  type Table,
  TABLE_LIST,
  TEXT,
  tildeProblem,
  wholeNumber,
} from "./config_fields.ts";
import { DURATION_TEXT, parseDurationText } from "./capacity_fields.ts";
import { parentDir, resolvePath } from "./config_paths.ts";
import { findStrayDataPaths } from "./data_dir_paths.ts";
import { findIdPaths } from "./id_paths.ts";
import { findInertKeys } from "./inert_keys.ts";
import { readSettings } from "./read_settings.ts";
import { USER_SETTING } from "./user_values.ts";
import {
  findKeyPosition,
  formatKeyPath,
  indexKeyPositions,
  type KeySegment,
} from "./key_positions.ts";
import {
  type Config,
  type ConfigWarning,
  isDaemonSecret,
  type Isolation,
  ISOLATIONS,
  type Mount,
  type Network,
  NETWORKS,
  RESTART_POLICIES,
  type RoutingConfig,
  SERVICE_DEFAULTS,
  type ServiceConfig,
} from "./schema.ts";

/** A data dir given outside the file, and where it came from (for messages). */
export interface DataDirOverride {
  readonly value: string;
  /** e.g. `--data-dir` or `TENEMENT_DATA_DIR`. */
  readonly source: string;
}

/** Options for {@link parseConfig}. */
export interface ParseConfigOptions {
  /** The config file's path, shown as is in messages; resolved against `cwd` for `Config.path`. */
  readonly path: string;
  /** Absolute directory that a relative `path` or override resolves against. @default {"/"} */
  readonly cwd?: string | undefined;
  /** Replaces `settings.data_dir` (from `--data-dir` or `TENEMENT_DATA_DIR`). */
  readonly dataDirOverride?: DataDirOverride | undefined;
}

/**
 * Parses and validates a `tenement.toml`. Durations become milliseconds and relative paths are
 * resolved against the file's directory; `{data_dir}` and friends are left for spawn time.
 *
 * @throws {ConfigErrors} listing every syntax or validation problem, sorted by position.
 * @throws {InvalidInputError} when the data dir override starts with `~`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const config = parseConfig('[service.app]\ncommand = "./app"\n', { path: "/srv/tenement.toml" });
 * equal(config.services.get("app")?.workdir, "/srv");
 * equal(config.settings.dataDir, "/srv/tenement-data");
 * ```
 */
export function parseConfig(text: string, options: ParseConfigOptions): Config {
  const override = options.dataDirOverride;
  if (override !== undefined && override.value.startsWith("~")) {
    throw new InvalidInputError(tildeProblem(override.source, override.value), "data_dir");
  }
  const cwd = options.cwd ?? "/";
  const path = resolvePath(cwd, options.path);
  const dir = parentDir(path);
  const root = parseToml(text, options.path);
  const ctx: Context = { file: options.path, positions: indexKeyPositions(text), errors: [] };

  const { process: legacy, ...rest } = root;
  reportLegacyProcess(ctx, legacy);
  const top = readTable(ctx, rest, [], TOP_FIELDS, "at the top level");
  const dataDir = override === undefined ? undefined : resolvePath(cwd, override.value);
  const settings = readSettings(ctx, top.settings ?? {}, { dir, dataDir });
  const services = readServices(ctx, top.service ?? {}, { dir, defaultUser: settings.defaultUser });
  reportIdPaths(ctx, services);
  const serviceNames = new Set(Object.keys(top.service ?? {}));
  const instances = readInstances(ctx, top.instances ?? {}, serviceNames);
  const routing = readRouting(ctx, top.routing ?? {}, serviceNames);

  if (ctx.errors.length > 0) {
    const sorted = ctx.errors.toSorted((a, b) =>
      a.at.line - b.at.line || a.at.column - b.at.column
    );
    throw new ConfigErrors(sorted);
  }
  const warnings = [
    ...findInertKeys(rest, ctx),
    ...findStrayDataPaths(rest, ctx),
    ...findSharedSockets(services, top.service ?? {}, ctx),
  ]
    .toSorted((a, b) => a.at.line - b.at.line || a.at.column - b.at.column);
  return { path, dir, settings, services, instances, routing, warnings };
}

// --- Sections --------------------------------------------------------------------------------

const TOP_FIELDS = { settings: TABLE, service: TABLE, instances: TABLE, routing: TABLE };

function reportLegacyProcess(ctx: Context, legacy: unknown): void {
  if (legacy === undefined) return;
  const names = isTable(legacy) ? Object.keys(legacy) : [];
  const problem = (name: string) =>
    `unknown key "process" at the top level (use [${
      formatKeyPath(["service", name])
    }] instead of [${formatKeyPath(["process", name])}])`;
  if (names.length === 0) report(ctx, ["process"], problem("<name>"));
  for (const name of names) report(ctx, ["process", name], problem(name));
}

const SERVICE_FIELDS = {
  command: TEXT,
  args: STRING_LIST,
  health: HTTP_PATH,
  isolation: oneOf(ISOLATIONS),
  user: USER_SETTING,
  env: TABLE,
  env_clear: BOOLEAN,
  env_passthrough: STRING_LIST,
  workdir: TEXT,
  socket: TEXT,
  restart: oneOf(RESTART_POLICIES),
  idle_timeout: seconds("zero_or_more"),
  startup_timeout: seconds("positive"),
  request_timeout: seconds("positive"),
  stop_grace_period: seconds("zero_or_more"),
  stop_grace_period_secs: seconds("zero_or_more"),
  memory_limit_mb: wholeNumber(0, "megabytes"),
  cpu_shares: wholeNumber(1),
  pids_limit: wholeNumber(1),
  storage_quota_mb: wholeNumber(0, "megabytes"),
  storage_persist: BOOLEAN,
  image: TEXT,
  mounts: TABLE_LIST,
  network: oneOf(NETWORKS),
  rootfs: TEXT,
  kernel: TEXT,
  memory_mb: wholeNumber(1, "megabytes"),
  vcpus: wholeNumber(1),
  vsock_port: wholeNumber(0),
  auto_create: BOOLEAN,
  auto_create_limit: wholeNumber(0),
  auto_create_per_minute: wholeNumber(0),
  auto_create_allow: STRING_LIST,
  auto_create_forget_after: DURATION_TEXT,
  max_awake: wholeNumber(0),
  max_queued_requests: wholeNumber(0),
  shared_route: BOOLEAN,
};

/**
 * Service names taken by tenement's own entries in the data dir: an instance's data dir is
 * `{data_dir}/{service}/{id}`, so such a service's instances would read (and `ten rm --purge`
 * would delete) tenement's own files.
 */
const RESERVED_SERVICE_NAMES: ReadonlyMap<string, string> = new Map([
  [
    "acme",
    "{data_dir}/acme held built-in HTTPS's certificates and private keys before they moved to {data_dir}/.tenement/acme",
  ],
  ["run", "{data_dir}/run holds the instances' sockets"],
]);

function reservedProblem(name: string): string | undefined {
  const why = RESERVED_SERVICE_NAMES.get(name.toLowerCase());
  return why === undefined
    ? undefined
    : `reserved (instance data dirs are {data_dir}/{service}/{id}, and ${why}); pick another name`;
}

/** What every service inherits from outside its own table. */
interface ServiceDefaults {
  /** The config file's directory. */
  readonly dir: string;
  /** `[settings] default_user`. */
  readonly defaultUser: string;
}

function readServices(
  ctx: Context,
  table: Table,
  outer: ServiceDefaults,
): Map<string, ServiceConfig> {
  const services = new Map<string, ServiceConfig>();
  for (const name of keysInFileOrder(ctx, table, ["service"])) {
    const path = ["service", name];
    const problem = nameProblem(name) ?? reservedProblem(name);
    if (problem !== undefined) {
      report(ctx, path, `invalid service name ${JSON.stringify(name)}: ${problem}`);
    }
    const body = table[name];
    if (isTable(body)) services.set(name, readService(ctx, name, body, outer));
    else badValue(ctx, path, TABLE, body);
  }
  return services;
}

function readService(
  ctx: Context,
  name: string,
  table: Table,
  outer: ServiceDefaults,
): ServiceConfig {
  const dir = outer.dir;
  const path = ["service", name];
  const where = `in [${formatKeyPath(path)}]`;
  const values = readTable(ctx, table, path, SERVICE_FIELDS, where);
  if (isMissing(table, "command", SERVICE_FIELDS)) {
    const problem = `missing required key "command" ${where} (e.g. command = "python3 app.py")`;
    report(ctx, [...path, "command"], problem);
  }
  if (table["stop_grace_period"] !== undefined && table["stop_grace_period_secs"] !== undefined) {
    report(
      ctx,
      [...path, "stop_grace_period_secs"],
      `"stop_grace_period_secs" is another name for "stop_grace_period": set only one of them`,
    );
  }
  const defaults = SERVICE_DEFAULTS;
  return {
    name,
    command: values.command ?? "",
    args: values.args ?? [],
    health: values.health,
    isolation: values.isolation ?? defaults.isolation,
    user: values.user ?? outer.defaultUser,
    env: readEnv(ctx, values.env ?? {}, [...path, "env"]),
    envClear: values.env_clear ?? defaults.env_clear,
    envPassthrough: readPassthrough(ctx, values.env_passthrough ?? [], [
      ...path,
      "env_passthrough",
    ]),
    workdir: values.workdir === undefined ? dir : resolvePath(dir, values.workdir),
    socket: values.socket ?? defaults.socket,
    restart: values.restart ?? defaults.restart,
    idleTimeoutMs: values.idle_timeout ?? defaults.idle_timeout * 1000,
    startupTimeoutMs: values.startup_timeout ?? defaults.startup_timeout * 1000,
    requestTimeoutMs: values.request_timeout ?? defaults.request_timeout * 1000,
    stopGracePeriodMs: values.stop_grace_period ?? values.stop_grace_period_secs ??
      defaults.stop_grace_period * 1000,
    memoryLimitMb: values.memory_limit_mb,
    cpuShares: values.cpu_shares,
    pidsLimit: values.pids_limit,
    storageQuotaMb: values.storage_quota_mb,
    storagePersist: values.storage_persist ?? defaults.storage_persist,
    image: values.image,
    mounts: readMounts(ctx, values.mounts ?? [], [...path, "mounts"], dir),
    network: readNetwork(ctx, values.network, values.isolation ?? defaults.isolation, path),
    rootfs: values.rootfs === undefined ? undefined : resolvePath(dir, values.rootfs),
    autoCreate: values.auto_create ?? defaults.auto_create,
    autoCreateLimit: values.auto_create_limit ?? defaults.auto_create_limit,
    autoCreatePerMinute: values.auto_create_per_minute ?? defaults.auto_create_per_minute,
    autoCreateAllow: checkIds(ctx, values.auto_create_allow ?? [], [...path, "auto_create_allow"]),
    autoCreateForgetAfterMs: values.auto_create_forget_after ??
      parseDurationText(defaults.auto_create_forget_after)!,
    maxAwake: values.max_awake ?? defaults.max_awake,
    maxQueuedRequests: values.max_queued_requests ?? defaults.max_queued_requests,
    sharedRoute: values.shared_route ?? defaults.shared_route,
  };
}

function readEnv(ctx: Context, table: Table, path: readonly KeySegment[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(table)) {
    const at = [...path, key];
    if (key === "" || key.includes("=") || key.includes("\0")) {
      report(
        ctx,
        at,
        `invalid environment variable name ${
          JSON.stringify(key)
        }: it must be non-empty and contain no "=" or NUL`,
      );
    } else if (typeof raw === "string") {
      env[key] = raw;
    } else {
      const isScalar = typeof raw === "number" || typeof raw === "boolean";
      const hint = isScalar ? ` (quote it: ${formatKeyPath([key])} = "${raw}")` : "";
      badValue(ctx, at, { expected: "a string", convert: () => undefined, hint: () => hint }, raw);
    }
  }
  return env;
}

/**
 * Refuses `{id}` in a path (`args = ["{data_dir}/{id}/app.db"]`, `--db=/srv/{id}/x`) of a service
 * whose `auto_create` lets any Host name create an instance: that name would choose the path.
 */
function reportIdPaths(ctx: Context, services: ReadonlyMap<string, ServiceConfig>): void {
  for (const svc of services.values()) {
    if (!svc.autoCreate || svc.autoCreateAllow.length > 0) continue;
    for (const use of findIdPaths(svc)) {
      const path = ["service", svc.name, ...use.key];
      report(
        ctx,
        path,
        `"${formatKeyPath(path)}" = ${
          JSON.stringify(use.value)
        } uses {id} in a path while auto_create is on with no auto_create_allow: any Host name then chooses a path; list the ids in auto_create_allow, or keep per-instance files in the instance dir (env DATA_DIR = "{data_dir}/{name}/{id}")`,
      );
    }
  }
}

/**
 * Why a custom `socket` template can give two instances one path, or undefined when it cannot:
 * it must hold `{name}` and `{id}` with a character between them that neither may contain.
 */
export function socketCollision(template: string): string | undefined {
  const name = template.indexOf("{name}");
  const id = template.indexOf("{id}");
  if (id < 0) return "it has no {id}, so every instance of the service gets the same path";
  if (name < 0) return "it has no {name}, so instances of two services with the same id collide";
  const between = name < id
    ? template.slice(name + "{name}".length, id)
    : template.slice(id + "{id}".length, name);
  if (/[^A-Za-z0-9_-]/.test(between)) return undefined;
  return `names and ids may contain "-" and "_", so ${
    between === "" ? "nothing" : JSON.stringify(between)
  } between {name} and {id} does not keep them apart (notes:a-b and notes-a:b)`;
}

function findSharedSockets(
  services: ReadonlyMap<string, ServiceConfig>,
  table: Table,
  ctx: Context,
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const service of services.values()) {
    const body = table[service.name];
    if (!isTable(body) || typeof body["socket"] !== "string") continue;
    const why = socketCollision(service.socket);
    if (why === undefined) continue;
    const path = ["service", service.name, "socket"];
    const { line, column } = findKeyPosition(ctx.positions, path);
    const key = formatKeyPath(path);
    warnings.push({
      at: { file: ctx.file, line, column, key },
      message: `${ctx.file}:${line}:${column}: "${key}" = ${
        JSON.stringify(service.socket)
      } can give two instances the same socket path: ${why} (e.g. use ${
        JSON.stringify(SERVICE_DEFAULTS.socket)
      }, "." appears in no name or id)`,
    });
  }
  return warnings;
}

/** A portable environment variable name: what `env_passthrough` may list. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Reports names that are not variable names or are never passed to instances. */
function readPassthrough(
  ctx: Context,
  names: readonly string[],
  path: readonly KeySegment[],
): string[] {
  names.forEach((name, index) => {
    const where = `in "${formatKeyPath(path)}"`;
    if (!ENV_NAME.test(name)) {
      report(
        ctx,
        [...path, index],
        `invalid environment variable name ${
          JSON.stringify(name)
        } ${where}: use letters, digits and "_", not starting with a digit`,
      );
    } else if (isDaemonSecret(name)) {
      report(
        ctx,
        [...path, index],
        `${
          JSON.stringify(name)
        } ${where} is never passed to instances (TENEMENT_* and SSH_AUTH_SOCK stay with the daemon); set the value in [${
          formatKeyPath(path.slice(0, -1))
        }] env if the app needs it`,
      );
    }
  });
  return [...names];
}

/** `network = "none"` only makes sense in a sandbox: the other levels share the host's network. */
function readNetwork(
  ctx: Context,
  network: Network | undefined,
  isolation: Isolation,
  path: readonly KeySegment[],
): Network {
  if (network === "none" && isolation !== "sandbox") {
    report(
      ctx,
      [...path, "network"],
      `network = "none" needs isolation = "sandbox" (isolation = ${
        JSON.stringify(isolation)
      } shares the host's network); set isolation = "sandbox" or remove network`,
    );
  }
  return network ?? SERVICE_DEFAULTS.network;
}

const MOUNT_FIELDS = { source: TEXT, destination: TEXT, readonly: BOOLEAN };

function readMounts(
  ctx: Context,
  list: readonly unknown[],
  path: readonly KeySegment[],
  dir: string,
): Mount[] {
  const mounts: Mount[] = [];
  const where = `in [[${formatKeyPath(path)}]]`;
  list.forEach((raw, index) => {
    const at = [...path, index];
    if (!isTable(raw)) return badValue(ctx, at, TABLE, raw);
    const values = readTable(ctx, raw, at, MOUNT_FIELDS, where);
    for (const key of ["source", "destination"]) {
      if (isMissing(raw, key, MOUNT_FIELDS)) {
        report(ctx, [...at, key], `missing required key "${key}" ${where}`);
      }
    }
    if (values.destination !== undefined && !values.destination.startsWith("/")) {
      report(
        ctx,
        [...at, "destination"],
        `invalid destination ${
          JSON.stringify(values.destination)
        } ${where}: expected an absolute path inside the sandbox, e.g. "/srv/shared"`,
      );
    }
    if (values.source !== undefined && values.destination !== undefined) {
      const source = resolvePath(dir, values.source);
      mounts.push({ source, destination: values.destination, readonly: values.readonly ?? false });
    }
  });
  return mounts;
}

/** Reports ids that are not valid names, and repeats; returns the list unchanged. */
function checkIds(ctx: Context, ids: readonly string[], path: readonly KeySegment[]): string[] {
  const seen = new Set<string>();
  ids.forEach((id, index) => {
    const problem = nameProblem(id);
    const where = `in "${formatKeyPath(path)}"`;
    if (problem !== undefined) {
      report(
        ctx,
        [...path, index],
        `invalid instance id ${JSON.stringify(id)} ${where}: ${problem}`,
      );
    } else if (seen.has(id.toLowerCase())) {
      report(
        ctx,
        [...path, index],
        `duplicate instance id ${
          JSON.stringify(id)
        } ${where} (ids are case-insensitive, like host names)`,
      );
    }
    seen.add(id.toLowerCase());
  });
  return [...ids];
}

const ID_LIST: Field<readonly string[]> = {
  expected: 'an array of instance ids (e.g. ["alice", "bob"])',
  convert: STRING_LIST.convert,
};

function readInstances(
  ctx: Context,
  table: Table,
  services: ReadonlySet<string>,
): Map<string, readonly string[]> {
  const instances = new Map<string, readonly string[]>();
  for (const name of keysInFileOrder(ctx, table, ["instances"])) {
    const path = ["instances", name];
    if (!services.has(name)) {
      const header = formatKeyPath(["service", name]);
      report(
        ctx,
        path,
        `Instance list references undefined service '${name}'. Define it in [${header}] first${
          didYouMean(name, services)
        }`,
      );
    }
    const ids = ID_LIST.convert(table[name]);
    if (ids === undefined) badValue(ctx, path, ID_LIST, table[name]);
    else instances.set(name, checkIds(ctx, ids, path));
  }
  return instances;
}

const ROUTING_FIELDS = { default: TEXT, subdomain: TABLE, path: TABLE };
const SERVICE_NAME: Field<string> = { ...TEXT, expected: "a service name" };

function readRouting(ctx: Context, table: Table, services: ReadonlySet<string>): RoutingConfig {
  const values = readTable(ctx, table, ["routing"], ROUTING_FIELDS, "in [routing]");
  const checkService = (path: readonly KeySegment[], name: string) => {
    if (services.has(name)) return;
    report(
      ctx,
      path,
      `"${formatKeyPath(path)}" refers to undefined service ${JSON.stringify(name)}${
        didYouMean(name, services)
      }`,
    );
  };
  if (values.default !== undefined) checkService(["routing", "default"], values.default);
  const readMap = (key: "subdomain" | "path"): Map<string, string> => {
    const map = new Map<string, string>();
    for (const [label, raw] of Object.entries(values[key] ?? {})) {
      const at = ["routing", key, label];
      if (key === "path" && !label.startsWith("/")) {
        report(
          ctx,
          at,
          `invalid path prefix ${
            JSON.stringify(label)
          } in [routing.path]: expected a path starting with "/"`,
        );
      }
      const service = SERVICE_NAME.convert(raw);
      if (service === undefined) badValue(ctx, at, SERVICE_NAME, raw);
      else {
        checkService(at, service);
        map.set(label, service);
      }
    }
    return map;
  };
  return { defaultService: values.default, subdomain: readMap("subdomain"), path: readMap("path") };
}

function parseToml(text: string, file: string): Table {
  try {
    return parse(text);
  } catch (error: unknown) {
    if (!(error instanceof TomlError)) throw error;
    const reason = (error.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    const at = { file, line: error.line, column: error.column };
    throw new ConfigErrors([new ConfigError(`invalid TOML: ${reason}`, at, { cause: error })]);
  }
}
