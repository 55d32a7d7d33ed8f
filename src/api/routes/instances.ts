/**
 * `/api/instances…`: list, spawn, stop, restart, weight and health of instances.
 * @module
 */
import { parseInstanceKey } from "../../core/instance_key.ts";
import { assertWeight } from "../../core/weights.ts";
import type { InstanceSnapshot } from "../../supervisor/instance_entry.ts";
import type { Supervisor } from "../../supervisor/supervisor.ts";
import { assertAccess, canAccess, type Identity } from "../auth.ts";
import { audited, type AuditSink } from "../audit.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import { readJsonObject, stringField } from "../read_json.ts";
import type { RouteHandler, Router } from "../router.ts";
import type { HealthResponse, InstanceJson, SpawnResponse, WeightResponse } from "../wire.ts";

/** What the instance routes need. */
export interface InstanceRouteDeps {
  readonly supervisor: Supervisor;
  readonly now: () => number;
  readonly audit: AuditSink;
}

/** Context of an authenticated request. */
export interface AuthedContext {
  readonly identity: Identity;
}

/** The API's view of an instance. */
export function instanceJson(s: InstanceSnapshot, nowMs: number): InstanceJson {
  const isUp = s.startedAtMs !== undefined && s.pid !== undefined;
  return {
    id: s.key,
    socket: s.port !== undefined ? `127.0.0.1:${s.port}` : "",
    uptime_secs: isUp ? Math.floor((nowMs - s.startedAtMs!) / 1000) : 0,
    idle_secs: Math.floor((nowMs - s.lastActivityMs) / 1000),
    restarts: s.restarts,
    health: s.health,
    storage_used_bytes: 0,
    storage_quota_bytes: null,
    weight: s.weight,
    service: s.service,
    instance: s.id,
    status: s.status,
    pid: s.pid ?? null,
    port: s.port ?? null,
    reason: s.reason ?? null,
    retry_in_secs: s.retryAtMs === undefined
      ? null
      : Math.max(0, Math.ceil((s.retryAtMs - nowMs) / 1000)),
  };
}

function spawnResponse(s: InstanceSnapshot): SpawnResponse {
  return {
    instance: s.key,
    socket: s.port !== undefined ? `127.0.0.1:${s.port}` : "",
    port: s.port ?? null,
    status: s.status,
    pid: s.pid ?? null,
  };
}

/** Adds the instance routes to `router`. */
export function addInstanceRoutes<C extends AuthedContext>(
  router: Router<C>,
  deps: InstanceRouteDeps,
): void {
  const { supervisor } = deps;
  const audit = <T>(
    identity: Identity,
    action: string,
    ref: { service: string; id: string },
    fn: () => Promise<T>,
    details?: string,
  ): Promise<T> =>
    audited(deps.audit, deps.now, {
      identity,
      action,
      target: `${ref.service}:${ref.id}`,
      ...(details === undefined ? {} : { details }),
    }, fn);
  const refOf = (id: string | undefined): ReturnType<typeof parseInstanceKey> => {
    try {
      return parseInstanceKey(id ?? "", "id");
    } catch (err: unknown) {
      throw new HttpError(400, (err as Error).message, { field: "id" });
    }
  };

  const list: RouteHandler<C> = (_req, ctx) => {
    const all = ["1", "true", "yes"].includes(ctx.url.searchParams.get("all") ?? "");
    const service = ctx.url.searchParams.get("service") ?? undefined;
    const rows = supervisor.list(service === undefined ? { all } : { all, service })
      .filter((s) => canAccess(ctx.identity, s.service, s.id))
      .map((s) => instanceJson(s, deps.now()));
    return Promise.resolve(jsonResponse(rows));
  };

  router
    .add("GET", "/api/instances", list)
    .add("POST", "/api/instances/spawn", async (req, ctx) => {
      const body = await readJsonObject(req);
      const service = stringField(body, "process");
      const id = stringField(body, "id");
      const ref = refOf(`${service}:${id}`);
      assertAccess(ctx.identity, ref.service, ref.id);
      const s = await audit(ctx.identity, "spawn", ref, () => supervisor.spawn(ref, "api"));
      return jsonResponse(spawnResponse(s));
    })
    .add("GET", "/api/instances/:id", (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const s = supervisor.get(ref);
      if (!s) throw new HttpError(404, `Instance not found: ${ref.service}:${ref.id}`);
      return Promise.resolve(jsonResponse(instanceJson(s, deps.now())));
    })
    .add("DELETE", "/api/instances/:id", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      await audit(ctx.identity, "stop", ref, () => supervisor.stop(ref));
      return new Response(null, { status: 204 });
    })
    .add("POST", "/api/instances/:id/restart", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const s = await audit(ctx.identity, "restart", ref, () => supervisor.restart(ref));
      return jsonResponse(spawnResponse(s));
    })
    .add("PUT", "/api/instances/:id/weight", async (req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const body = await readJsonObject(req);
      if (body["weight"] === undefined) {
        throw new HttpError(400, 'Missing field "weight"', { field: "weight" });
      }
      const weight = assertWeight(body["weight"]);
      const s = await audit(
        ctx.identity,
        "weight",
        ref,
        () => supervisor.setWeight(ref, weight),
        `weight=${weight}`,
      );
      return jsonResponse({ instance: s.key, weight: s.weight } satisfies WeightResponse);
    })
    .add("GET", "/api/instances/:id/health", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const s = await supervisor.checkHealth(ref);
      return jsonResponse(
        {
          instance: s.key,
          health: s.health,
          status: s.status,
          reason: s.reason ?? null,
        } satisfies HealthResponse,
      );
    });
}
