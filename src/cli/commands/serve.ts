/**
 * `ten serve`: loads the config and runs the daemon until SIGTERM or SIGINT: plain HTTP, or with
 * `--tls` / `[settings.tls] enabled = true` HTTPS with ACME certificates (`config/tls_plan.ts`).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { InvalidInputError, TenementError } from "../../core/errors.ts";
import { planTls } from "../../config/tls_plan.ts";
import { runDaemon } from "../../daemon/daemon.ts";
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";

const log = getLogger(["tenement", "config"]);

/** Options of `ten serve`. */
export interface ServeOptions {
  readonly port: string;
  readonly domain?: string | undefined;
  readonly bind: string;
  readonly tls?: boolean | undefined;
  readonly email?: string | undefined;
  readonly staging?: boolean | undefined;
}

/** `ten serve`. */
export async function serveVerb(options: ServeOptions, globals: GlobalOptions): Promise<number> {
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port) || port > 65535) {
    throw new InvalidInputError(`Invalid --port "${options.port}": expected 0-65535`, "port");
  }
  // The daemon reads its own config only: never the installed service's.
  const config = await loadConfigFor(globals, { useInstalled: false });
  for (const warning of config.warnings ?? []) log.warn("{warning}", { warning: warning.message });
  const tls = planTls(config.settings.tls, options);
  const domain = tls?.domain ?? options.domain ?? "localhost";
  try {
    await runDaemon({
      config,
      port,
      domain,
      hostname: options.bind,
      tls,
      // A reload reads the same file with the same --data-dir / TENEMENT_DATA_DIR override.
      reloadConfig: () =>
        loadConfigFor({ ...globals, config: config.path }, { useInstalled: false }),
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
