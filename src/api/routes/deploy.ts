/**
 * Deployments and traffic: `POST /api/deploy`, `POST /api/route`, `POST /api/rollback` and
 * `GET /api/history`. Admin token only.
 * @module
 */
import { assertValidName, formatInstanceKey } from "../../core/instance_key.ts";
import { assertWeight } from "../../core/weights.ts";
import { messageOf } from "../../core/errors.ts";
import type { AuditLog, InstanceControl } from "../api_ports.ts";
import { audited, type AuditSink } from "../audit.ts";
import type { Identity } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import { readJsonObject, stringField } from "../read_json.ts";
import type { Router } from "../router.ts";
import type { DeployResponse, HistoryEntryJson, RollbackResponse, RouteResponse } from "../wire.ts";

/** What the deployment routes need. */
export interface DeployRouteDeps {
  readonly instances: InstanceControl;
  /** Read by `GET /api/history`. */
  readonly audit: AuditLog;
  /** Where the routes record what they did. */
  readonly record: AuditSink;
  readonly now: () => number;
}

interface AuthedContext {
  readonly identity: Identity;
}

function requireAdmin(identity: Identity, what: string): void {
  if (identity.kind !== "admin") throw new HttpError(403, `${what} requires admin token`);
}

function nameField(body: Record<string, unknown>, field: string, what: "service" | "id"): string {
  const value = stringField(body, field);
  try {
    assertValidName(value, what, field);
  } catch (err: unknown) {
    throw new HttpError(400, messageOf(err), { field });
  }
  return value;
}

function optionalNumber(
  body: Record<string, unknown>,
  field: string,
  fallback: number,
): number {
  const value = body[field];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new HttpError(400, `Field "${field}" must be a number`, { field });
  }
  return value;
}

/** Adds the deployment routes. */
export function addDeployRoutes<C extends AuthedContext>(
  router: Router<C>,
  deps: DeployRouteDeps,
): void {
  const { instances } = deps;
  router
    .add("POST", "/api/deploy", async (req, ctx) => {
      requireAdmin(ctx.identity, "Deploy");
      const body = await readJsonObject(req);
      const service = nameField(body, "process", "service");
      const version = nameField(body, "version", "id");
      let weight: number;
      try {
        weight = assertWeight(optionalNumber(body, "weight", 100));
      } catch (err: unknown) {
        throw new HttpError(400, messageOf(err), { field: "weight" });
      }
      const timeout = optionalNumber(body, "timeout", 30);
      if (timeout <= 0 || timeout > 3600) {
        throw new HttpError(400, `Invalid timeout ${timeout}: expected 1-3600 seconds`, {
          field: "timeout",
        });
      }
      const ref = { service, id: version };
      const view = await audited(deps.record, deps.now, {
        identity: ctx.identity,
        action: "deploy",
        target: formatInstanceKey(ref),
        details: `weight=${weight}`,
      }, () => instances.deploy(ref, { weight, timeoutMs: timeout * 1000 }));
      return jsonResponse(
        {
          instance: view.key,
          socket: view.port === undefined ? "" : `127.0.0.1:${view.port}`,
          weight: view.weight,
          status: view.health,
        } satisfies DeployResponse,
      );
    })
    .add("POST", "/api/route", async (req, ctx) => {
      requireAdmin(ctx.identity, "Route swap");
      const body = await readJsonObject(req);
      const service = nameField(body, "process", "service");
      const from = nameField(body, "from", "id");
      const to = nameField(body, "to", "id");
      const stopOld = body["stop_old"] === true;
      if (body["stop_old"] !== undefined && typeof body["stop_old"] !== "boolean") {
        throw new HttpError(400, 'Field "stop_old" must be a boolean', { field: "stop_old" });
      }
      const moved = await audited(deps.record, deps.now, {
        identity: ctx.identity,
        action: "route",
        target: service,
        details: `${from} -> ${to}${stopOld ? ", stop old" : ""}`,
      }, () => instances.route(service, from, to, { stopOld }));
      return jsonResponse(
        {
          from_instance: moved.from.key,
          to_instance: moved.to.key,
          from_weight: moved.from.weight,
          to_weight: moved.to.weight,
        } satisfies RouteResponse,
      );
    })
    .add("POST", "/api/rollback", async (req, ctx) => {
      requireAdmin(ctx.identity, "Rollback");
      const body = await readJsonObject(req);
      const service = nameField(body, "process", "service");
      const views = await audited(deps.record, deps.now, {
        identity: ctx.identity,
        action: "rollback",
        target: service,
      }, () => instances.rollback(service));
      return jsonResponse(
        {
          process: service,
          weights: views.map((view) => ({ instance: view.key, weight: view.weight })),
        } satisfies RollbackResponse,
      );
    })
    .add("GET", "/api/history", async (_req, ctx) => {
      requireAdmin(ctx.identity, "History");
      const limitText = ctx.url.searchParams.get("limit") ?? "100";
      if (!/^\d+$/.test(limitText) || Number(limitText) > 10_000) {
        throw new HttpError(400, `Invalid limit "${limitText}": expected 0-10000`, {
          field: "limit",
        });
      }
      const entries = await deps.audit.listAudit(Number(limitText));
      return jsonResponse(entries.map((entry): HistoryEntryJson => ({
        time: entry.atMs,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        outcome: entry.outcome,
        details: entry.details,
      })));
    });
}
