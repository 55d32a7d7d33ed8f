/**
 * Deployments and traffic: `POST /api/deploy`, `POST /api/route`, `POST /api/rollback` and
 * `GET /api/history`. Admin token only.
 * @module
 */
import { assertValidName } from "../../core/instance_key.ts";
import { assertWeight } from "../../core/weights.ts";
import type { InvalidInputError } from "../../core/errors.ts";
import type { StateStore } from "../../store/state_store.ts";
import type { Supervisor } from "../../supervisor/supervisor.ts";
import { audited, type AuditSink } from "../audit.ts";
import type { Identity } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import { readJsonObject, stringField } from "../read_json.ts";
import type { Router } from "../router.ts";
import type { DeployResponse, RouteResponse } from "../wire.ts";

/** What the deployment routes need. */
export interface DeployRouteDeps {
  readonly supervisor: Supervisor;
  readonly store: StateStore;
  readonly audit: AuditSink;
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
    throw new HttpError(400, (err as Error).message, { field });
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
  const { supervisor } = deps;
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
        throw new HttpError(400, (err as InvalidInputError).message, { field: "weight" });
      }
      const timeout = optionalNumber(body, "timeout", 30);
      if (timeout <= 0 || timeout > 3600) {
        throw new HttpError(400, `Invalid timeout ${timeout}: expected 1-3600 seconds`, {
          field: "timeout",
        });
      }
      const s = await audited(deps.audit, deps.now, {
        identity: ctx.identity,
        action: "deploy",
        target: `${service}:${version}`,
        details: `weight=${weight}`,
      }, () => supervisor.deploy({ service, id: version }, { weight, timeoutMs: timeout * 1000 }));
      return jsonResponse(
        {
          instance: s.key,
          socket: s.port === undefined ? "" : `127.0.0.1:${s.port}`,
          weight: s.weight,
          status: s.health,
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
      const res = await audited(deps.audit, deps.now, {
        identity: ctx.identity,
        action: "route",
        target: service,
        details: `${from} -> ${to}${stopOld ? ", stop old" : ""}`,
      }, () => supervisor.route(service, from, to, { stopOld }));
      return jsonResponse(
        {
          from_instance: res.from.key,
          to_instance: res.to.key,
          from_weight: res.from.weight,
          to_weight: res.to.weight,
        } satisfies RouteResponse,
      );
    })
    .add("POST", "/api/rollback", async (req, ctx) => {
      requireAdmin(ctx.identity, "Rollback");
      const body = await readJsonObject(req);
      const service = nameField(body, "process", "service");
      const rows = await audited(deps.audit, deps.now, {
        identity: ctx.identity,
        action: "rollback",
        target: service,
      }, () => supervisor.rollback(service));
      return jsonResponse({
        process: service,
        weights: rows.map((r) => ({ instance: r.key, weight: r.weight })),
      });
    })
    .add("GET", "/api/history", async (_req, ctx) => {
      requireAdmin(ctx.identity, "History");
      const limitText = ctx.url.searchParams.get("limit") ?? "100";
      if (!/^\d+$/.test(limitText) || Number(limitText) > 10_000) {
        throw new HttpError(400, `Invalid limit "${limitText}": expected 0-10000`, {
          field: "limit",
        });
      }
      const rows = await deps.store.listAudit(Number(limitText));
      return jsonResponse(rows.map((r) => ({
        time: r.atMs,
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        details: r.details,
      })));
    });
}
