/**
 * Options every verb accepts (before or after the verb), and how they resolve: flag, then
 * `TENEMENT_*` environment variable, then default.
 * @module
 */
import { loadConfig } from "../config/load_config.ts";
import type { Config } from "../config/schema.ts";
import { TenementError } from "../core/errors.ts";

/** Raw global options from the command line. */
export interface GlobalOptions {
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly config?: string | undefined;
}

/** The server URL for client verbs, without a trailing slash. */
export function serverUrl(globals: GlobalOptions): string {
  const url = globals.server ?? Deno.env.get("TENEMENT_SERVER") ?? "http://localhost:8080";
  return url.replace(/\/+$/, "");
}

/** Loads the config the way every verb does. */
export function loadConfigFor(globals: GlobalOptions): Promise<Config> {
  return loadConfig({
    explicit: globals.config,
    dataDir: globals.dataDir,
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
  });
}

/**
 * The bearer token: `--token`, then `TENEMENT_TOKEN`, then `{data_dir}/api_token`.
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
  const file = `${config.settings.dataDir}/api_token`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new TenementError(
      `No API token found. Tried --token, the TENEMENT_TOKEN environment variable and ${file}. Run \`ten token-gen\` first to create a token.`,
    );
  }
  const token = text.trim();
  if (token === "") throw new TenementError(`The API token in ${file} is empty`);
  return token;
}
