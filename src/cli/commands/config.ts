/**
 * `ten config`: shows the loaded config (validated) without a server.
 * @module
 */
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";
import { err, out } from "../output.ts";
import type { ServiceConfig } from "../../config/schema.ts";
import { parsePasswd } from "../../core/passwd.ts";

/**
 * Services whose `user` names no user of this machine: a warning, not an error, since a config
 * may be checked on another machine than the one that runs it (the spawn fails there).
 */
async function missingUsers(services: Iterable<ServiceConfig>): Promise<string[]> {
  const named = [...services].filter((s) => s.user !== "inherit" && s.user !== "auto");
  if (named.length === 0) return [];
  const text = await Deno.readTextFile("/etc/passwd").catch(() => undefined);
  if (text === undefined) return [];
  const known = new Set(parsePasswd(text).map((u) => u.name));
  return named.filter((s) => !known.has(s.user)).map((s) =>
    `service "${s.name}" runs as user = ${
      JSON.stringify(s.user)
    }, which is not a user of this machine (not in /etc/passwd): its instances will fail to start here`
  );
}

/** `ten config [--json]`. */
export async function configVerb(
  options: { json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const config = await loadConfigFor(globals);
  for (const warning of config.warnings ?? []) err.line(`Warning: ${warning.message}`);
  for (const warning of await missingUsers(config.services.values())) {
    err.line(`Warning: ${warning}`);
  }
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
    if (svc.user !== "inherit") out.line(`    user: ${svc.user}`);
    if (svc.health !== undefined) out.line(`    health: ${svc.health}`);
    if (svc.idleTimeoutMs > 0) out.line(`    idle_timeout: ${svc.idleTimeoutMs / 1000}s`);
    const ids = config.instances.get(svc.name);
    if (ids && ids.length > 0) out.line(`    instances: ${ids.join(", ")}`);
  }
  return 0;
}
