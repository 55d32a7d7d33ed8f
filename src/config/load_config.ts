/**
 * Finds `tenement.toml` (`--config`, then `TENEMENT_CONFIG`, then the cwd and its parents), reads
 * it and parses it with the data dir override applied. Edge: reads the file system.
 * @module
 */
import { messageOf, NotFoundError, TenementError } from "../core/errors.ts";
import { parentDir, resolvePath } from "./config_paths.ts";
import { parseConfig } from "./parse_config.ts";
import type { Config } from "./schema.ts";

/** The file name searched for in the cwd and its parents. */
const CONFIG_FILE_NAME = "tenement.toml";

/** Options for {@link findConfigPath}. */
export interface FindConfigOptions {
  /** `--config`; wins over everything else. */
  readonly explicit?: string | undefined;
  /** The process environment; `TENEMENT_CONFIG` is read from it. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Absolute directory the search starts from and relative paths resolve against. */
  readonly cwd: string;
}

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions extends FindConfigOptions {
  /** `--data-dir`; wins over `TENEMENT_DATA_DIR` and `settings.data_dir`. */
  readonly dataDir?: string | undefined;
}

/**
 * Returns the absolute path of the config file to use.
 *
 * @throws {NotFoundError} when the named file does not exist, or no `tenement.toml` is found in
 * `cwd` or any parent directory.
 */
export async function findConfigPath(options: FindConfigOptions): Promise<string> {
  return (await locate(options)).path;
}

/**
 * Finds, reads and parses the config. The data dir override is `--data-dir`, else
 * `TENEMENT_DATA_DIR`. Messages show the path as given, or relative to `cwd` when it was found by
 * searching (so `tenement.toml:7:1: ...` in the project directory).
 *
 * @throws {NotFoundError} when there is no config file.
 * @throws {ConfigErrors} listing every problem in the file.
 * @throws {InvalidInputError} when the data dir override starts with `~`.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<Config> {
  const { path, shownAs } = await locate(options);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error: unknown) {
    throw new TenementError(`Cannot read config file "${path}": ${messageOf(error)}`, {
      cause: error,
    });
  }
  return parseConfig(text, {
    path: shownAs,
    cwd: options.cwd,
    dataDirOverride: dataDirOverride(options),
  });
}

function dataDirOverride(
  options: LoadConfigOptions,
): { value: string; source: string } | undefined {
  if (options.dataDir !== undefined && options.dataDir !== "") {
    return { value: options.dataDir, source: "--data-dir" };
  }
  const fromEnv = options.env["TENEMENT_DATA_DIR"];
  if (fromEnv !== undefined && fromEnv !== "") {
    return { value: fromEnv, source: "TENEMENT_DATA_DIR" };
  }
  return undefined;
}

/** The absolute path, and how messages should show it. */
async function locate(options: FindConfigOptions): Promise<{ path: string; shownAs: string }> {
  const named = nonEmpty(options.explicit) ?? nonEmpty(options.env["TENEMENT_CONFIG"]);
  if (named !== undefined) {
    const path = resolvePath(options.cwd, named);
    if (!(await isFile(path))) {
      const from = named === options.explicit ? "" : " (from TENEMENT_CONFIG)";
      throw new NotFoundError(`Config file not found: ${named}${from}`);
    }
    return { path, shownAs: named };
  }
  const start = resolvePath("/", options.cwd);
  const found = await findConfigUpward(start);
  if (found !== undefined) return found;
  throw new NotFoundError(noConfigMessage(start));
}

/**
 * The `tenement.toml` in `cwd` or its nearest parent holding one, with the path messages show
 * (`tenement.toml`, `../tenement.toml`, ...); undefined when there is none.
 */
export async function findConfigUpward(
  cwd: string,
): Promise<{ path: string; shownAs: string } | undefined> {
  for (let dir = resolvePath("/", cwd), up = "";; dir = parentDir(dir), up += "../") {
    const path = resolvePath(dir, CONFIG_FILE_NAME);
    if (await isFile(path)) return { path, shownAs: `${up}${CONFIG_FILE_NAME}` };
    if (dir === "/") return undefined;
  }
}

function noConfigMessage(cwd: string): string {
  return [
    `No ${CONFIG_FILE_NAME} found in ${cwd} or any parent directory. Create one with:`,
    "",
    "  [service.app]",
    '  command = "python3 app.py"',
    '  health = "/health"',
    "",
    "  [instances]",
    '  app = ["default"]',
    "",
    "or run `ten init` to write one for the current directory",
  ].join("\n");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error: unknown) {
    // An unreadable parent directory must not stop the upward search.
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      return false;
    }
    throw error;
  }
}
