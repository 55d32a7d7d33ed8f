/**
 * `POST /api/reload` (`ten reload`): re-reads the config file and puts it in force when it is
 * good; 422 with the file's problems otherwise (nothing changes). Admin token only.
 * @module
 */
import { NOTHING_CHANGED, type ReloadReport } from "../../config/reload_report.ts";
import type { ConfigReload } from "../api_ports.ts";
import type { AuditSink } from "../audit.ts";
import type { Identity } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Router } from "../router.ts";
import type { ErrorBody, ReloadResponse } from "../wire.ts";

/** What the reload route needs. */
export interface ReloadRouteDeps {
  readonly reload: ConfigReload;
  readonly record: AuditSink;
  readonly now: () => number;
}

/** The wire form of a reload report. */
export function reloadResponse(report: ReloadReport): ReloadResponse {
  return {
    config: report.path,
    added: report.added,
    changed: report.changed,
    removed: report.removed,
    settings: report.settings,
    needs_restart: report.needsRestart,
    instances_changed: report.isInstancesChanged,
    outdated: report.outdated.map((o) => ({
      instance: o.instance,
      service_removed: o.isServiceRemoved,
    })),
    warnings: report.warnings,
  };
}

/** Adds `POST /api/reload` to `router`. */
export function addReloadRoute<C extends { readonly identity: Identity }>(
  router: Router<C>,
  deps: ReloadRouteDeps,
): void {
  router.add("POST", "/api/reload", async (_req, ctx) => {
    if (ctx.identity.kind !== "admin") throw new HttpError(403, "Reload requires admin token");
    const startedAtMs = deps.now();
    const outcome = await deps.reload.reload();
    await deps.record({
      atMs: startedAtMs,
      actor: "admin",
      action: "reload",
      target: "config",
      outcome: outcome.isApplied ? "ok" : "error",
      details: outcome.isApplied ? "" : outcome.message,
    });
    if (!outcome.isApplied) {
      const body: ErrorBody = { error: outcome.message, details: [NOTHING_CHANGED] };
      return jsonResponse(body, 422);
    }
    return jsonResponse(reloadResponse(outcome.report));
  });
}
