/**
 * Builds the argv, environment and paths of one instance from its service template. Pure: the
 * inherited environment is passed in.
 * @module
 */
import type { ServiceConfig } from "../config/schema.ts";
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
 * a command without `args` into words, and sets `PORT` and `SOCKET_PATH` last so they always win.
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
  const env: Record<string, string> = { ...p.baseEnv };
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
