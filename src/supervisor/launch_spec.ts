/**
 * Builds the argv, environment and paths of one instance from its service template. Pure: the
 * inherited environment is passed in.
 * @module
 */
import {
  isDaemonSecret,
  SERVICE_DEFAULTS,
  type ServiceConfig,
  type Settings,
} from "../config/schema.ts";
import { parentDir } from "../config/config_paths.ts";
import type { LaunchUser, UserRequest } from "./ports.ts";
import { splitCommandLine } from "../core/command_line.ts";
import { interpolate } from "../core/template.ts";
import { instanceDir } from "../core/instance_dir.ts";

/** The resolved pieces needed to start an instance. */
export interface InstancePlan {
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  /** `{data_dir}/{service}/{id}`, created before start. */
  readonly instanceDir: string;
  readonly socketPath: string;
}

/** Daemon variables kept with `env_clear` besides those the service lists in `env_passthrough`. */
const CLEAR_KEPT = ["PATH", "LANG", "TZ", "HOME"];

/**
 * The part of the daemon's environment an instance starts with: all of it but the daemon's
 * secrets, or with `env_clear` only `PATH LANG TZ HOME` and the `env_passthrough` names.
 */
export function inheritedEnv(
  service: Pick<ServiceConfig, "envClear" | "envPassthrough">,
  baseEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  const keep = service.envClear
    ? (name: string) => CLEAR_KEPT.includes(name) || service.envPassthrough.includes(name)
    : () => true;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(baseEnv)) {
    if (keep(name) && !isDaemonSecret(name)) env[name] = value;
  }
  return env;
}

/**
 * The warning `ten serve` logs once at start when it runs as root (`uid` 0) and services would run
 * their instances as root with nothing between them (`user` resolving to root, i.e. `"inherit"`
 * or `"root"`, and `isolation = "process"` or `"namespace"`); undefined otherwise.
 */
export function rootInstancesWarning(
  services: Iterable<Pick<ServiceConfig, "name" | "isolation" | "user">>,
  uid: number | null,
): string | undefined {
  if (uid !== 0) return undefined;
  const names = [...services]
    // Root in a namespace of its own keeps every capability: it can unmount what hides tenement's
    // files, so only a sandbox (which never runs as root) holds it in.
    .filter((s) => (s.isolation === "process" || s.isolation === "namespace"))
    .filter((s) => s.user === "inherit" || s.user === "root")
    .map((s) => s.name);
  if (names.length === 0) return undefined;
  return `ten serve runs as root, so the instances of ${
    names.join(", ")
  } run as root too, with nothing between them and tenement's files: one compromised app owns every tenant and the daemon. See docs/security.md ("Isolation") for the choices`;
}

/**
 * The warning `ten serve` logs once at start when it is not root and services set
 * `user = "auto"`: only root can switch users, so their instances run as the daemon's own user
 * (`userName`); undefined otherwise.
 */
export function sharedUserWarning(
  services: Iterable<Pick<ServiceConfig, "name" | "user">>,
  uid: number | null,
  userName: string,
): string | undefined {
  if (uid === 0 || uid === null) return undefined;
  const names = [...services].filter((s) => s.user === "auto").map((s) => s.name);
  if (names.length === 0) return undefined;
  return `ten serve runs as ${
    JSON.stringify(userName)
  } (uid ${uid}), not root, so user = "auto" has no effect: the instances of ${
    names.join(", ")
  } run as ${
    JSON.stringify(userName)
  } too and can read one another's data. Run ten serve as root to give each instance a user of its own`;
}

/** Inputs that vary per start. */
export interface PlanInputs {
  readonly service: ServiceConfig;
  readonly id: string;
  readonly dataDir: string;
  readonly port: number;
  /** Environment inherited from `ten serve`. */
  readonly baseEnv: Readonly<Record<string, string>>;
}

/**
 * Interpolates `{name} {id} {data_dir} {port} {socket}` into command, args and env values, splits
 * a command without `args` into words, filters the inherited env ({@link inheritedEnv}), and sets `PORT` and `SOCKET_PATH` last so they always win.
 */
export function planInstance(p: PlanInputs): InstancePlan {
  const base = { name: p.service.name, id: p.id, data_dir: p.dataDir, port: "", socket: "" };
  const socketPath = interpolate(p.service.socket, base);
  const vars = { ...base, port: String(p.port), socket: socketPath };
  // Split before interpolating, so a data dir with spaces or quotes stays one word.
  const words = p.service.args.length > 0
    ? [p.service.command, ...p.service.args]
    : splitCommandLine(p.service.command);
  const argv = words.map((w) => interpolate(w, vars));
  const env = inheritedEnv(p.service, p.baseEnv);
  for (const [key, value] of Object.entries(p.service.env)) env[key] = interpolate(value, vars);
  env["PORT"] = String(p.port);
  env["SOCKET_PATH"] = socketPath;
  return {
    argv,
    env,
    cwd: p.service.workdir,
    instanceDir: instanceDir(p.dataDir, p.service.name, p.id),
    socketPath,
  };
}

/**
 * The instance's own socket dir `{data_dir}/run/{name}.{id}` when its service keeps the default
 * socket template; undefined for a custom template (whose dir may be shared).
 */
export function ownSocketDir(
  service: Pick<ServiceConfig, "name" | "socket">,
  id: string,
  dataDir: string,
): string | undefined {
  if (service.socket !== SERVICE_DEFAULTS.socket) return undefined;
  const vars = { name: service.name, id, data_dir: dataDir, port: "", socket: "" };
  return parentDir(interpolate(service.socket, vars));
}

/**
 * What the instance's user is decided from: the plan, and the socket's own directory when the
 * default socket template gives each instance one (a custom template's dir is only made).
 */
export function userRequestOf(
  service: ServiceConfig,
  id: string,
  settings: Pick<Settings, "dataDir" | "autoUserRange">,
  plan: InstancePlan,
): UserRequest {
  return {
    service,
    id,
    settings,
    argv: plan.argv,
    env: plan.env,
    cwd: plan.cwd,
    instanceDir: plan.instanceDir,
    socketDir: ownSocketDir(service, id, settings.dataDir),
  };
}

/**
 * The plan's environment for a start as `user`: under a user of its own, `HOME` is the
 * instance's data dir (the daemon's `HOME`, e.g. `/root`, is not its to use).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const plan = { argv: ["app"], env: { HOME: "/root" }, cwd: "/srv", instanceDir: "/d/n/a", socketPath: "/s" };
 * equal(envForUser(plan, { uid: 61190, gid: 61190 })["HOME"], "/d/n/a");
 * equal(envForUser(plan, undefined)["HOME"], "/root");
 * ```
 */
export function envForUser(
  plan: InstancePlan,
  user: LaunchUser | undefined,
): Readonly<Record<string, string>> {
  return user === undefined ? plan.env : { ...plan.env, HOME: plan.instanceDir };
}
