/**
 * `ten config`: shows the loaded config (validated) without a server.
 * @module
 */
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";
import { err, out } from "../output.ts";

/** `ten config [--json]`. */
export async function configVerb(
  options: { json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const config = await loadConfigFor(globals);
  for (const warning of config.warnings ?? []) err.line(`Warning: ${warning.message}`);
  if (options.json) {
    out.json({
      path: config.path,
      settings: config.settings,
      services: Object.fromEntries(config.services),
      instances: Object.fromEntries(config.instances),
    });
    return 0;
  }
  out.line(`Config: ${JSON.stringify(config.path)}`);
  out.line(`Data dir: ${JSON.stringify(config.settings.dataDir)}`);
  out.line(`Health interval: ${config.settings.healthCheckIntervalMs / 1000}s`);
  out.line();
  out.line("Services:");
  for (const svc of config.services.values()) {
    out.line(`  [${svc.name}]`);
    out.line(`    command: ${[svc.command, ...svc.args].join(" ")}`);
    out.line(`    isolation: ${svc.isolation}`);
    if (svc.health !== undefined) out.line(`    health: ${svc.health}`);
    if (svc.idleTimeoutMs > 0) out.line(`    idle_timeout: ${svc.idleTimeoutMs / 1000}s`);
    const ids = config.instances.get(svc.name);
    if (ids && ids.length > 0) out.line(`    instances: ${ids.join(", ")}`);
  }
  return 0;
}
