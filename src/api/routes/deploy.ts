/**
 * Deployments and traffic: `POST /api/deploy` (and `POST /api/deploy/plan`, the same checks
 * without the deploy), `POST /api/route`, `POST /api/rollback` and `GET /api/history`. Admin
 * token only.
 * @module
 */
import { assertValidName, formatInstanceKey } from "../../core/instance_key.ts";
import { assertWeight } from "../../core/weights.ts";
import { deployWeight } from "../../core/deploy_weight.ts";
import { messageOf } from "../../core/errors.ts";
import type { AuditLog, InstanceControl, InstanceView } from "../api_ports.ts";
import { audited, type AuditSink } from "../audit.ts";
import type { Identity } from "../auth.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import { readJsonObject, stringField } from "../read_json.ts";
import type { Router } from "../router.ts";
import type {
  DeployPlanResponse,
  DeployResponse,
  HistoryEntryJson,
  RollbackResponse,
  RouteResponse,
} from "../wire.ts";

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

/** A deploy request, checked. */
interface DeployBody {
  readonly ref: { readonly service: string; readonly id: string };
  /** Undefined when the body has none: the blue-green default applies. */
  readonly weight: number | undefined;
  readonly timeoutSecs: number;
}

async function readDeployBody(req: Request): Promise<DeployBody> {
  const body = await readJsonObject(req);
  const service = nameField(body, "process", "service");
  const version = nameField(body, "version", "id");
  let weight: number | undefined;
  try {
    weight = body["weight"] === undefined ? undefined : assertWeight(body["weight"]);
  } catch (err: unknown) {
    throw new HttpError(400, messageOf(err), { field: "weight" });
  }
  const timeoutSecs = optionalNumber(body, "timeout", 30);
  if (timeoutSecs <= 0 || timeoutSecs > 3600) {
    throw new HttpError(400, `Invalid timeout ${timeoutSecs}: expected 1-3600 seconds`, {
      field: "timeout",
    });
  }
  return { ref: { service, id: version }, weight, timeoutSecs };
}

/** The weight a deploy of `ref` would end with now, and the other instances with traffic. */
function planOf(
  instances: InstanceControl,
  ref: DeployBody["ref"],
  requested: number | undefined,
): { weight: number; othersWithTraffic: string[] } {
  const views = instances.list({ all: true, service: ref.service });
  const others = views.filter((view) => view.id !== ref.id);
  const weight = deployWeight({
    requested,
    current: views.find((view) => view.id === ref.id)?.weight,
    others: others.map((view) => view.weight),
  });
  return { weight, othersWithTraffic: withTraffic(others) };
}

/** Keys of the instances that get traffic (weight > 0). */
function withTraffic(views: readonly InstanceView[]): string[] {
  return views.filter((view) => view.weight > 0).map((view) => view.key);
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
      const { ref, weight, timeoutSecs } = await readDeployBody(req);
      const planned = planOf(instances, ref, weight).weight;
      const view = await audited(deps.record, deps.now, {
        identity: ctx.identity,
        action: "deploy",
        target: formatInstanceKey(ref),
        details: `weight=${planned}${weight === undefined ? " (default)" : ""}`,
      }, () => instances.deploy(ref, { weight, timeoutMs: timeoutSecs * 1000 }));
      const others = instances.list({ all: true, service: ref.service })
        .filter((other) => other.id !== view.id);
      return jsonResponse(
        {
          instance: view.key,
          socket: view.port === undefined ? "" : `127.0.0.1:${view.port}`,
          weight: view.weight,
          status: view.health,
          others_with_traffic: withTraffic(others),
        } satisfies DeployResponse,
      );
    })
    // What a deploy with the same body would do, changing nothing: the CLI asks first, so a
    // refused deploy prints no progress and an accepted one announces its weight.
    .add("POST", "/api/deploy/plan", async (req, ctx) => {
      requireAdmin(ctx.identity, "Deploy");
      const { ref, weight } = await readDeployBody(req);
      const plan = planOf(instances, ref, weight);
      return jsonResponse(
        {
          instance: formatInstanceKey(ref),
          weight: plan.weight,
          others_with_traffic: plan.othersWithTraffic,
        } satisfies DeployPlanResponse,
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
