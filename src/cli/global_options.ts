/**
 * Options every verb accepts (before or after the verb), and how they resolve: flag, then
 * `TENEMENT_*` environment variable, then default.
 * @module
 */
import { findConfigUpward, loadConfig } from "../config/load_config.ts";
import { type InstalledService, readInstalledService } from "./installed_service.ts";
import { INSTALL_PATHS } from "./systemd_unit.ts";
import type { Config } from "../config/schema.ts";
import { TenementError } from "../core/errors.ts";
import { legacyStatePaths, statePaths } from "../core/state_paths.ts";

/** Raw global options from the command line. */
export interface GlobalOptions {
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly config?: string | undefined;
}

/**
 * The server URL for client verbs, without a trailing slash: `--server`, `TENEMENT_SERVER`, the
 * installed service's listener (on a server without a `tenement.toml` nearby), then
 * `http://localhost:8080`.
 */
export async function serverUrl(globals: GlobalOptions): Promise<string> {
  const url = globals.server ?? Deno.env.get("TENEMENT_SERVER") ??
    (await installedFallback(globals))?.server ?? "http://localhost:8080";
  return url.replace(/\/+$/, "");
}

/**
 * Loads the config the way every verb does: `--config`, `TENEMENT_CONFIG`, `tenement.toml` in the
 * working directory or a parent, then (for client verbs, `useInstalled`) the config and data dir
 * of the service `ten install` set up.
 */
export async function loadConfigFor(
  globals: GlobalOptions,
  options: { readonly useInstalled?: boolean } = {},
): Promise<Config> {
  const env = Deno.env.toObject();
  const installed = options.useInstalled === false ? undefined : await installedFallback(globals);
  if (installed?.config !== undefined) {
    const hasDataDir = globals.dataDir !== undefined || nonEmpty(env["TENEMENT_DATA_DIR"]);
    return loadConfig({
      explicit: installed.config,
      dataDir: hasDataDir ? globals.dataDir : installed.dataDir,
      env,
      cwd: Deno.cwd(),
    });
  }
  return loadConfig({ explicit: globals.config, dataDir: globals.dataDir, env, cwd: Deno.cwd() });
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value !== "";
}

let installedCache: Promise<InstalledService | undefined> | undefined;

/**
 * The installed service when this run has no config of its own: no `--config`, no
 * `TENEMENT_CONFIG`, and no `tenement.toml` in the working directory or its parents.
 */
function installedFallback(globals: GlobalOptions): Promise<InstalledService | undefined> {
  if (globals.config !== undefined || nonEmpty(Deno.env.get("TENEMENT_CONFIG"))) {
    return Promise.resolve(undefined);
  }
  installedCache ??= installedWhenNoProjectConfig(
    Deno.cwd(),
    Deno.env.get("TENEMENT_INSTALLED_UNIT") ?? INSTALL_PATHS.unit,
  );
  return installedCache;
}

/**
 * The service installed by the unit at `unitPath`, unless `cwd` or a parent holds a
 * `tenement.toml` (a project's own config wins).
 */
export async function installedWhenNoProjectConfig(
  cwd: string,
  unitPath: string,
): Promise<InstalledService | undefined> {
  if (await findConfigUpward(cwd) !== undefined) return undefined;
  return await readInstalledService(unitPath);
}

/**
 * The bearer token: `--token`, then `TENEMENT_TOKEN`, then `{data_dir}/.tenement/api_token` (or
 * `{data_dir}/api_token`, where a daemon not yet restarted since an upgrade keeps it).
 */
export async function resolveToken(globals: GlobalOptions): Promise<string> {
  const direct = globals.token ?? Deno.env.get("TENEMENT_TOKEN");
  if (direct !== undefined) {
    const token = direct.trim();
    if (token === "") throw new TenementError("The API token is empty");
    return token;
  }
  let config: Config;
  try {
    config = await loadConfigFor(globals);
  } catch (cause: unknown) {
    throw new TenementError(
      "Could not load tenement.toml. Are you in a tenement project directory?",
      { cause },
    );
  }
  const dataDir = config.settings.dataDir;
  // The old place too: a daemon not yet restarted since an upgrade keeps the token there.
  const [file, legacy] = [statePaths(dataDir).apiToken, legacyStatePaths(dataDir).apiToken];
  const text = await readTextOrUndefined(file) ?? await readTextOrUndefined(legacy);
  if (text === undefined) {
    throw new TenementError(
      `No API token found. Tried --token, the TENEMENT_TOKEN environment variable and ${file}. Run \`ten token-gen\` first to create a token.`,
    );
  }
  const token = text.trim();
  if (token === "") throw new TenementError(`The API token in ${file} is empty`);
  return token;
}

async function readTextOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}
