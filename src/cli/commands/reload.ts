/**
 * `ten reload`: asks the daemon to re-read its config file (as SIGHUP does) and prints what
 * changed, or the file's problems (exit 1, nothing changed).
 * @module
 */
import { describeReload, NOTHING_CHANGED, type ReloadReport } from "../../config/reload_report.ts";
import { ConfigErrors } from "../../core/errors.ts";
import { type ApiClient, ApiError } from "../api_client.ts";
import type { ReloadResponse } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { err, out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** The report a reload answer carries. */
function reportOf(res: ReloadResponse): ReloadReport {
  return {
    path: res.config,
    added: res.added,
    changed: res.changed,
    removed: res.removed,
    settings: res.settings,
    needsRestart: res.needs_restart,
    isInstancesChanged: res.instances_changed,
    outdated: res.outdated.map((o) => ({
      instance: o.instance,
      isServiceRemoved: o.service_removed,
    })),
    warnings: res.warnings,
  };
}

/** `ten reload [--json]`. */
export async function reloadVerb(
  options: { json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  let client: ApiClient;
  try {
    client = await clientFor(globals);
  } catch (error: unknown) {
    // The token file is found through tenement.toml: when the edited file is bad, say what the
    // daemon would say about it (nothing was sent, so nothing changed).
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof ConfigErrors) throw new ApiError(cause.message, [NOTHING_CHANGED]);
    throw error;
  }
  const res = await client.reload();
  if (options.json) {
    out.json(res);
    return 0;
  }
  for (const warning of res.warnings) err.line(`Warning: ${warning}`);
  for (const line of describeReload(reportOf(res))) out.line(line);
  return 0;
}
