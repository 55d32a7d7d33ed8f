/**
 * The test presets of the daemon helper: {@linkcode startDaemon} (a daemon in a temp dir with a
 * token, domain `localhost` and debug logging) and {@linkcode apiSpawn}.
 * @module
 */
import { ok } from "node:assert/strict";
import { tenementToml, type TenementTomlParts } from "./config.ts";
import { Daemon, type DaemonOptions } from "./daemon.ts";
import { tempDir } from "./temp_dir.ts";

/** Options of {@linkcode startDaemon}. */
export interface StartDaemonOptions extends Omit<DaemonOptions, "dir"> {
  /** Working directory; a temp dir removed after the daemon stops when absent. */
  readonly dir?: string;
  /** tenement.toml (written into `dir`), as text or as parts for {@linkcode tenementToml}. */
  readonly config: string | TenementTomlParts;
  /** Generate an admin token first. @default {true} */
  readonly withToken?: boolean;
}

/**
 * Starts a daemon for a test (domain `localhost`, debug logging) and waits until it listens;
 * dispose it with `await using`.
 */
export async function startDaemon(options: StartDaemonOptions): Promise<Daemon> {
  const tmp = options.dir === undefined ? await tempDir() : undefined;
  const daemon = new Daemon({
    domain: "localhost",
    serveEnv: { TENEMENT_LOG: "debug" },
    ...options,
    dir: options.dir ?? tmp!.path,
    env: { NO_COLOR: "1", ...options.env },
    ...(tmp === undefined ? {} : { owns: tmp }),
  });
  const { config } = options;
  await daemon.writeConfig(typeof config === "string" ? config : tenementToml(config));
  if (options.withToken ?? true) await daemon.makeToken();
  await daemon.start();
  return daemon;
}

/** Spawns `service:id` through the API and returns its pid (which it must have). */
export async function apiSpawn(d: Daemon, service: string, id: string): Promise<number> {
  const { pid } = await d.spawn(service, id);
  ok(pid !== null, `spawn of ${service}:${id} answered no pid`);
  return pid;
}
