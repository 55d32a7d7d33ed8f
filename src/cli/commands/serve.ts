/**
 * `ten serve`: loads the config and runs the daemon until SIGTERM or SIGINT.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { InvalidInputError, TenementError } from "../../core/errors.ts";
import { runDaemon } from "../../daemon/daemon.ts";
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";

const log = getLogger(["tenement", "config"]);

/** What to do instead of built-in TLS, which every TLS option and key points to. */
const TLS_ALTERNATIVE =
  "this version of tenement serves plain HTTP only; put Caddy or nginx in front of it for HTTPS (see README)";

/** Options of `ten serve`. */
export interface ServeOptions {
  readonly port: string;
  readonly domain: string;
  readonly bind: string;
  readonly tls?: boolean;
  readonly email?: string;
  readonly staging?: boolean;
}

/** `ten serve`. */
export async function serveVerb(options: ServeOptions, globals: GlobalOptions): Promise<number> {
  const tlsFlags = [
    options.tls && "--tls",
    options.email !== undefined && "--email",
    options.staging && "--staging",
  ].filter((flag) => typeof flag === "string");
  if (tlsFlags.length > 0) {
    const named = tlsFlags.join(", ");
    throw new InvalidInputError(
      `${named} ${tlsFlags.length === 1 ? "is" : "are"} not implemented yet: ${TLS_ALTERNATIVE}`,
      tlsFlags[0]!.slice(2),
    );
  }
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port) || port > 65535) {
    throw new InvalidInputError(`Invalid --port "${options.port}": expected 0-65535`, "port");
  }
  const config = await loadConfigFor(globals);
  for (const warning of config.warnings ?? []) log.warn("{warning}", { warning: warning.message });
  if (config.settings.tls.enabled) {
    throw new TenementError(
      `"settings.tls.enabled = true" in ${config.path} is not implemented yet: ${TLS_ALTERNATIVE}`,
    );
  }
  try {
    await runDaemon({
      config,
      port,
      domain: options.domain,
      hostname: options.bind,
      // A reload reads the same file with the same --data-dir / TENEMENT_DATA_DIR override.
      reloadConfig: () => loadConfigFor({ ...globals, config: config.path }),
    });
  } catch (cause: unknown) {
    if (cause instanceof Deno.errors.AddrInUse) {
      throw new TenementError(
        `Cannot listen on ${options.bind}:${port}: address already in use (is another ten serve running?)`,
        { cause },
      );
    }
    throw cause;
  }
  return 0;
}
