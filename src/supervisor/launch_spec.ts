/**
 * Builds the argv, environment and paths of one instance from its service template. Pure: the
 * inherited environment is passed in.
 * @module
 */
import { isDaemonSecret, type ServiceConfig } from "../config/schema.ts";
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
 * their instances as root with nothing between them (today every service: `isolation = "process"`
 * and no `user` key yet); undefined otherwise.
 */
export function rootInstancesWarning(
  services: Iterable<Pick<ServiceConfig, "name" | "isolation">>,
  uid: number | null,
): string | undefined {
  if (uid !== 0) return undefined;
  const names = [...services].filter((s) => s.isolation === "process").map((s) => s.name);
  if (names.length === 0) return undefined;
  return `ten serve runs as root, so the instances of ${
    names.join(", ")
  } run as root too, with nothing between them and tenement's files: one compromised app owns every tenant and the daemon. See docs/security.md ("Isolation") for the choices`;
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
