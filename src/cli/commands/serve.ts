/**
 * `ten serve`: loads the config and runs the daemon until SIGTERM or SIGINT.
 * @module
 */
import { InvalidInputError, TenementError } from "../../core/errors.ts";
import { runDaemon } from "../../daemon/daemon.ts";
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";

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
export async function serveVerb(options: ServeOptions, g: GlobalOptions): Promise<number> {
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port) || port > 65535) {
    throw new InvalidInputError(`Invalid --port "${options.port}": expected 0-65535`, "port");
  }
  const config = await loadConfigFor(g);
  if (options.tls || config.settings.tls.enabled) {
    throw new TenementError(
      "Built-in TLS is not available in this version of tenement yet: serve plain HTTP behind Caddy or nginx (see README)",
    );
  }
  try {
    await runDaemon({ config, port, domain: options.domain, hostname: options.bind });
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
