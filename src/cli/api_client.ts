/**
 * Typed client of the management API for the client verbs, over the shared wire types.
 * @module
 */
import { TenementError } from "../core/errors.ts";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import type {
  CertsResponse,
  DeployPlanResponse,
  DeployRequest,
  DeployResponse,
  DisableResponse,
  ErrorBody,
  ForgetResponse,
  HealthResponse,
  HistoryEntryJson,
  InstanceJson,
  LogEntryJson,
  ReloadResponse,
  RevokeTokenResponse,
  RollbackResponse,
  RouteResponse,
  SpawnRequest,
  SpawnResponse,
  TokenJson,
  WeightRequest,
  WeightResponse,
} from "../api/wire.ts";

/** Talks to a running `ten serve`. */
export class ApiClient {
  readonly server: string;
  readonly #token: string;

  constructor(server: string, token: string) {
    this.server = server;
    this.#token = token;
  }

  /** `GET /api/instances`. */
  listInstances(all: boolean): Promise<InstanceJson[]> {
    return this.#request("GET", `/api/instances${all ? "?all=true" : ""}`);
  }

  /** `POST /api/instances/spawn`. */
  spawn(ref: InstanceRef): Promise<SpawnResponse> {
    const body: SpawnRequest = { process: ref.service, id: ref.id };
    return this.#request("POST", "/api/instances/spawn", body);
  }

  /** `DELETE /api/instances/:id`. */
  async stop(ref: InstanceRef): Promise<void> {
    await this.#request("DELETE", `/api/instances/${key(ref)}`);
  }

  /** `POST /api/instances/:id/restart`. */
  restart(ref: InstanceRef): Promise<SpawnResponse> {
    return this.#request("POST", `/api/instances/${key(ref)}/restart`);
  }

  /** `POST /api/instances/:id/forget` (`ten rm`); a dry run only checks and reports. */
  forget(
    ref: InstanceRef,
    options: { readonly purge: boolean; readonly dryRun: boolean },
  ): Promise<ForgetResponse> {
    const query = [
      ...(options.purge ? ["purge=1"] : []),
      ...(options.dryRun ? ["dry_run=1"] : []),
    ].join("&");
    return this.#request("POST", `/api/instances/${key(ref)}/forget${query ? `?${query}` : ""}`);
  }

  /** `POST /api/instances/:id/disable` (`ten disable`). */
  disable(ref: InstanceRef): Promise<DisableResponse> {
    return this.#request("POST", `/api/instances/${key(ref)}/disable`);
  }

  /** `POST /api/instances/:id/enable` (`ten enable`). */
  enable(ref: InstanceRef): Promise<DisableResponse> {
    return this.#request("POST", `/api/instances/${key(ref)}/enable`);
  }

  /** `POST /api/reload`. */
  reload(): Promise<ReloadResponse> {
    return this.#request("POST", "/api/reload");
  }

  /** `GET /api/instances/:id/health`. */
  health(ref: InstanceRef): Promise<HealthResponse> {
    return this.#request("GET", `/api/instances/${key(ref)}/health`);
  }

  /** `PUT /api/instances/:id/weight`. */
  setWeight(ref: InstanceRef, weight: number): Promise<WeightResponse> {
    const body: WeightRequest = { weight };
    return this.#request("PUT", `/api/instances/${key(ref)}/weight`, body);
  }

  /** `GET /api/instances/:id`, or undefined when unknown. */
  async instance(ref: InstanceRef): Promise<InstanceJson | undefined> {
    const res = await this.#fetch("GET", `/api/instances/${key(ref)}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw await errorOf(res, this.server);
    return await res.json() as InstanceJson;
  }

  /** `POST /api/deploy`; without `weight` the server's blue-green default applies. */
  deploy(
    ref: InstanceRef,
    weight: number | undefined,
    timeoutSecs: number,
  ): Promise<DeployResponse> {
    return this.#request("POST", "/api/deploy", deployRequest(ref, weight, timeoutSecs));
  }

  /** `POST /api/deploy/plan`: what that deploy would do, changing nothing. */
  deployPlan(
    ref: InstanceRef,
    weight: number | undefined,
    timeoutSecs: number,
  ): Promise<DeployPlanResponse> {
    return this.#request("POST", "/api/deploy/plan", deployRequest(ref, weight, timeoutSecs));
  }

  /** `POST /api/route`. */
  route(service: string, from: string, to: string, stopOld: boolean): Promise<RouteResponse> {
    return this.#request("POST", "/api/route", {
      process: service,
      from,
      to,
      ...(stopOld ? { stop_old: true } : {}),
    });
  }

  /** `POST /api/rollback`. */
  rollback(service: string): Promise<RollbackResponse> {
    return this.#request("POST", "/api/rollback", { process: service });
  }

  /** `GET /api/history`. */
  history(limit: number): Promise<HistoryEntryJson[]> {
    return this.#request("GET", `/api/history?limit=${limit}`);
  }

  /** `GET /api/tokens`. */
  listTokens(): Promise<TokenJson[]> {
    return this.#request("GET", "/api/tokens");
  }

  /** `DELETE /api/tokens/:id`; `force` allows revoking the last admin token. */
  revokeToken(tokenId: string, force: boolean): Promise<RevokeTokenResponse> {
    const query = force ? "?force=1" : "";
    return this.#request("DELETE", `/api/tokens/${encodeURIComponent(tokenId)}${query}`);
  }

  /** `GET /api/tls/certs`. */
  certs(): Promise<CertsResponse> {
    return this.#request("GET", "/api/tls/certs");
  }

  /** `GET /api/logs`. */
  logs(query: URLSearchParams): Promise<LogEntryJson[]> {
    return this.#request("GET", `/api/logs?${query}`);
  }

  /** `GET /metrics`: the Prometheus text (admin or metrics token). */
  async metricsText(): Promise<string> {
    const res = await this.#fetch("GET", "/metrics");
    if (!res.ok) throw await errorOf(res, this.server);
    return await res.text();
  }

  /** `GET /api/logs/stream`: the raw SSE response. */
  async logStream(query: URLSearchParams): Promise<Response> {
    const res = await this.#fetch("GET", `/api/logs/stream?${query}`);
    if (!res.ok) throw await errorOf(res, this.server);
    return res;
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(method, path, body);
    if (!res.ok) throw await errorOf(res, this.server);
    if (res.status === 204) return undefined as T;
    return await res.json() as T;
  }

  async #fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(`${this.server}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause: unknown) {
      throw new TenementError(`Failed to connect to server at ${this.server}`, { cause });
    }
  }
}

function deployRequest(
  ref: InstanceRef,
  weight: number | undefined,
  timeoutSecs: number,
): DeployRequest {
  return {
    process: ref.service,
    version: ref.id,
    ...(weight === undefined ? {} : { weight }),
    timeout: timeoutSecs,
  };
}

/** `service:id`, escaped for a path segment. */
function key(ref: InstanceRef): string {
  return encodeURIComponent(formatInstanceKey(ref));
}

/** An API error, with the server's extra detail lines when it sent some. */
export class ApiError extends TenementError {
  override name = "ApiError";
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.details = details;
  }
}

/**
 * The error an API answer carries. An authentication failure names the server, since its usual
 * cause is a client pointed at another daemon than the one its token came from.
 */
async function errorOf(res: Response, server: string): Promise<TenementError> {
  const text = await res.text();
  const where = res.status === 401 ? ` for ${server}` : "";
  try {
    const body = JSON.parse(text) as ErrorBody;
    if (typeof body.error === "string") {
      return new ApiError(`${body.error}${where}`, body.details ?? []);
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new TenementError(`Server returned ${res.status} ${res.statusText}${where}`);
}
