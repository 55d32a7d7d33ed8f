/**
 * `/api/instances…`: list, spawn, stop, restart, weight, health, forget, disable and enable of
 * instances.
 * @module
 */
import { messageOf } from "../../core/errors.ts";
import { formatInstanceKey, type InstanceRef, parseInstanceKey } from "../../core/instance_key.ts";
import { assertWeight } from "../../core/weights.ts";
import type {
  DisabledView,
  InstanceControl,
  SpawnedView,
  SpawnOrigin,
  StorageUsage,
} from "../api_ports.ts";
import { type MeasuredView, withStorage } from "../measured_view.ts";
import { assertAccess, canAccess, type Identity } from "../auth.ts";
import { audited, type AuditSink } from "../audit.ts";
import { HttpError, jsonResponse } from "../http_error.ts";
import { readJsonObject, stringField } from "../read_json.ts";
import type { RouteContext, RouteHandler, Router } from "../router.ts";
import type {
  DisableResponse,
  ForgetResponse,
  HealthResponse,
  InstanceJson,
  SpawnRequest,
  SpawnResponse,
  WeightResponse,
} from "../wire.ts";

/** What the instance routes need. */
export interface InstanceRouteDeps {
  readonly instances: InstanceControl;
  readonly storage: StorageUsage;
  readonly now: () => number;
  readonly record: AuditSink;
}

/** Context of an authenticated request. */
export interface AuthedContext {
  readonly identity: Identity;
}

/** The API's view of an instance. */
function instanceJson(view: MeasuredView, nowMs: number): InstanceJson {
  const startedAtMs = view.pid === undefined ? undefined : view.startedAtMs;
  return {
    id: view.key,
    socket: view.port !== undefined ? `127.0.0.1:${view.port}` : "",
    uptime_secs: startedAtMs === undefined ? 0 : Math.floor((nowMs - startedAtMs) / 1000),
    idle_secs: Math.floor((nowMs - view.lastActivityMs) / 1000),
    restarts: view.restarts,
    health: view.health,
    storage_used_bytes: view.storageUsedBytes,
    storage_quota_bytes: view.storageQuotaBytes,
    weight: view.weight,
    service: view.service,
    instance: view.id,
    status: view.isDisabled === true ? "disabled" : view.status,
    pid: view.pid ?? null,
    port: view.port ?? null,
    reason: view.reason ?? null,
    retry_in_secs: view.retryAtMs === undefined
      ? null
      : Math.max(0, Math.ceil((view.retryAtMs - nowMs) / 1000)),
    disabled: view.isDisabled === true,
    rss_bytes: view.rssBytes ?? null,
    cpu_seconds: view.cpuSeconds ?? null,
  };
}

function spawnResponse(view: SpawnedView): SpawnResponse {
  return {
    instance: view.key,
    socket: view.port !== undefined ? `127.0.0.1:${view.port}` : "",
    port: view.port ?? null,
    status: view.status,
    pid: view.pid ?? null,
    ...(view.warning === undefined ? {} : { warning: view.warning }),
  };
}

/** The instance named by a path parameter, or 400 naming the `id` field. */
function refOf(key: string | undefined): InstanceRef {
  try {
    return parseInstanceKey(key ?? "", "id");
  } catch (err: unknown) {
    throw new HttpError(400, messageOf(err), { field: "id" });
  }
}

/** A yes in a query parameter: `1`, `true` or `yes`. */
function isYes(value: string | null): boolean {
  return ["1", "true", "yes"].includes(value ?? "");
}

/**
 * How an instance the caller starts is created: by the admin as any API spawn; by a tenant as a
 * request for its Host would create it (auto_create rules, weight 0). Other tokens may not.
 */
function spawnOriginOf(identity: Identity): SpawnOrigin {
  if (identity.kind === "admin") return "api";
  if (identity.kind === "tenant") return "request";
  throw new HttpError(403, "Starting an instance requires an admin or tenant token");
}

/** Adds the instance routes to `router`. */
export function addInstanceRoutes<C extends AuthedContext>(
  router: Router<C>,
  deps: InstanceRouteDeps,
): void {
  const { instances } = deps;
  const audit = <T>(
    identity: Identity,
    action: string,
    ref: InstanceRef,
    run: () => Promise<T>,
    details?: string,
  ): Promise<T> =>
    audited(deps.record, deps.now, {
      identity,
      action,
      target: formatInstanceKey(ref),
      ...(details === undefined ? {} : { details }),
    }, run);

  /**
   * `ten disable` / `ten enable`: admin only, audited; a repeat changes nothing and its audit
   * entry says so.
   */
  const switchDisabled = async (
    ctx: C & RouteContext,
    action: "disable" | "enable",
  ): Promise<Response> => {
    const ref = refOf(ctx.params["id"]);
    if (ctx.identity.kind !== "admin") {
      const doing = action === "disable" ? "Disabling" : "Enabling";
      throw new HttpError(403, `${doing} an instance requires admin token`);
    }
    const base = { atMs: deps.now(), actor: "admin", action, target: formatInstanceKey(ref) };
    let result: DisabledView;
    try {
      result = await (action === "disable" ? instances.disable(ref) : instances.enable(ref));
    } catch (err: unknown) {
      await deps.record({ ...base, outcome: "error", details: messageOf(err) });
      throw err;
    }
    const { instance: view, isChanged } = result;
    await deps.record({ ...base, outcome: "ok", details: isChanged ? "" : `already ${action}d` });
    const isDisabled = view.isDisabled === true;
    return jsonResponse(
      {
        instance: view.key,
        disabled: isDisabled,
        changed: isChanged,
        status: isDisabled ? "disabled" : view.status,
      } satisfies DisableResponse,
    );
  };

  const list: RouteHandler<C> = async (_req, ctx) => {
    const all = isYes(ctx.url.searchParams.get("all"));
    const service = ctx.url.searchParams.get("service") ?? undefined;
    const visible = instances.list(service === undefined ? { all } : { all, service })
      .filter((view) => canAccess(ctx.identity, view.service, view.id));
    const measured = await withStorage(visible, deps.storage);
    const nowMs = deps.now();
    return jsonResponse(measured.map((view) => instanceJson(view, nowMs)));
  };

  router
    .add("GET", "/api/instances", list)
    .add("POST", "/api/instances/spawn", async (req, ctx) => {
      // Who may start anything is known before the body is read.
      const origin = spawnOriginOf(ctx.identity);
      const body = await readJsonObject(req);
      const request: SpawnRequest = {
        process: stringField(body, "process"),
        id: stringField(body, "id"),
      };
      const ref = refOf(formatInstanceKey({ service: request.process, id: request.id }));
      assertAccess(ctx.identity, ref.service, ref.id);
      const before = instances.get(ref);
      const view = await audit(ctx.identity, "spawn", ref, () => instances.spawn(ref, origin));
      // Same process before and after: spawn found it running and started nothing.
      const isAlreadyRunning = before?.status === "running" && before.pid !== undefined &&
        before.pid === view.pid;
      return jsonResponse(
        { ...spawnResponse(view), already_running: isAlreadyRunning } satisfies SpawnResponse,
      );
    })
    .add("GET", "/api/instances/:id", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const view = instances.get(ref);
      if (!view) throw new HttpError(404, `Instance not found: ${formatInstanceKey(ref)}`);
      const [measured] = await withStorage([view], deps.storage);
      return jsonResponse(instanceJson(measured!, deps.now()));
    })
    .add("DELETE", "/api/instances/:id", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      await audit(ctx.identity, "stop", ref, () => instances.stop(ref));
      return new Response(null, { status: 204 });
    })
    .add("POST", "/api/instances/:id/restart", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const origin = spawnOriginOf(ctx.identity);
      const view = await audit(ctx.identity, "restart", ref, () => instances.restart(ref, origin));
      return jsonResponse(spawnResponse(view));
    })
    .add("PUT", "/api/instances/:id/weight", async (req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      // A weight sends the service's shared traffic (other tenants' requests) to an instance.
      if (ctx.identity.kind !== "admin") {
        throw new HttpError(403, "Changing a weight requires admin token");
      }
      const body = await readJsonObject(req);
      if (body["weight"] === undefined) {
        throw new HttpError(400, 'Missing field "weight"', { field: "weight" });
      }
      const weight = assertWeight(body["weight"]);
      const view = await audit(
        ctx.identity,
        "weight",
        ref,
        () => instances.setWeight(ref, weight),
        `weight=${weight}`,
      );
      return jsonResponse({ instance: view.key, weight: view.weight } satisfies WeightResponse);
    })
    .add("POST", "/api/instances/:id/forget", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      if (ctx.identity.kind !== "admin") {
        throw new HttpError(403, "Removing an instance requires admin token");
      }
      const purge = isYes(ctx.url.searchParams.get("purge"));
      const dryRun = isYes(ctx.url.searchParams.get("dry_run"));
      const forget = () => instances.forget(ref, { purge, dryRun });
      const view = dryRun
        ? await forget()
        : await audit(ctx.identity, "rm", ref, forget, purge ? "purge" : undefined);
      return jsonResponse(
        {
          instance: view.key,
          data_dir: view.dataDir,
          purged: view.isPurged,
          had_data_dir: view.hadDataDir,
          dry_run: dryRun,
        } satisfies ForgetResponse,
      );
    })
    .add("POST", "/api/instances/:id/disable", (_req, ctx) => switchDisabled(ctx, "disable"))
    .add("POST", "/api/instances/:id/enable", (_req, ctx) => switchDisabled(ctx, "enable"))
    .add("GET", "/api/instances/:id/health", async (_req, ctx) => {
      const ref = refOf(ctx.params["id"]);
      assertAccess(ctx.identity, ref.service, ref.id);
      const view = await instances.checkHealth(ref);
      return jsonResponse(
        {
          instance: view.key,
          health: view.health,
          status: view.status,
          reason: view.reason ?? null,
        } satisfies HealthResponse,
      );
    });
}
