/**
 * The client side of a running `ten serve`: authenticated API calls, instance rows (the API's
 * wire type) and waits on them, and proxied requests by Host. It records every pid it is told
 * about, so the daemon's dispose can prove those process groups are gone.
 * @module
 */
import type { InstanceJson, SpawnResponse } from "../src/api/wire.ts";
import { checkpoint } from "./process_groups.ts";
import { rawRequest, type RawRequestOptions, type RawResponse } from "./raw_http.ts";
import { waitFor, type WaitOptions } from "./wait.ts";

export type { InstanceJson, SpawnResponse };

/** The keys of an instance row that the original tenement had (and `ps --json` keeps). */
export const ORIGINAL_INSTANCE_KEYS: readonly (keyof InstanceJson)[] = [
  "id",
  "socket",
  "uptime_secs",
  "idle_secs",
  "restarts",
  "health",
  "storage_used_bytes",
  "storage_quota_bytes",
  "weight",
];

/** A response read fully. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** Options of {@linkcode DaemonClient.api}. */
export interface ApiCallOptions {
  /** Bearer token instead of the daemon's admin token. */
  readonly token?: string;
  /** @default {30_000} */
  readonly timeoutMs?: number;
}

/** Calls to a daemon listening on 127.0.0.1:`port` with admin token `token`. */
export class DaemonClient {
  port = 0;
  token = "";
  /** Every process group this daemon or its instances ever had. */
  readonly groups = new Set<number>();

  /** Base URL of the daemon. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * An authenticated API call (Host `localhost`, so it reaches the API whatever the domain), with
   * the admin token unless `options.token` is given. A pid in the answer is recorded, so its
   * group is checked at dispose.
   */
  async api(
    method: string,
    path: string,
    body?: unknown,
    options: ApiCallOptions = {},
  ): Promise<HttpResult> {
    await checkpoint();
    const res = await rawRequest(this.port, "localhost", path, {
      method,
      headers: {
        authorization: `Bearer ${options.token ?? this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: options.timeoutMs ?? 30_000,
    });
    this.recordPid(res.body);
    return { status: res.status, headers: res.headers, body: res.body };
  }

  /** {@linkcode api} with `token` as bearer instead of the admin token. */
  apiAs(token: string, method: string, path: string, body?: unknown): Promise<HttpResult> {
    return this.api(method, path, body, { token });
  }

  /** Records the pid an answer reports (a spawn, a restart, an app's echo) as a group to check. */
  protected recordPid(body: string): void {
    const pid = /"pid":\s*(\d+)/.exec(body);
    if (pid) this.groups.add(Number(pid[1]));
  }

  /** `POST /api/instances/spawn`; throws unless 200. */
  async spawn(service: string, id: string): Promise<SpawnResponse> {
    const res = await this.api("POST", "/api/instances/spawn", { process: service, id });
    if (res.status !== 200) throw new Error(`spawn ${service}:${id}: ${res.status} ${res.body}`);
    return JSON.parse(res.body) as SpawnResponse;
  }

  /** `DELETE /api/instances/S:I` (returns after the process group is gone); throws unless 204. */
  async stopInstance(service: string, id: string): Promise<void> {
    const res = await this.api("DELETE", `/api/instances/${service}:${id}`);
    if (res.status !== 204) throw new Error(`stop ${service}:${id}: ${res.status} ${res.body}`);
  }

  /** Every instance, including asleep and failed ones; records their process groups. */
  async instances(options: ApiCallOptions = {}): Promise<InstanceJson[]> {
    const res = await this.api("GET", "/api/instances?all=true", undefined, options);
    if (res.status !== 200) throw new Error(`list: ${res.status} ${res.body}`);
    const rows = JSON.parse(res.body) as InstanceJson[];
    for (const r of rows) if (r.pid !== null) this.groups.add(r.pid);
    return rows;
  }

  /** One instance row (`service:id`), or undefined. */
  async instance(key: string): Promise<InstanceJson | undefined> {
    return (await this.instances()).find((r) => r.id === key);
  }

  /** Waits until `check` holds for the whole instance list; returns that list. */
  untilInstances(
    check: (rows: readonly InstanceJson[]) => boolean,
    options: WaitOptions = {},
  ): Promise<InstanceJson[]> {
    return waitFor(async () => {
      const rows = await this.instances();
      return check(rows) ? rows : undefined;
    }, { what: "instances", ...options });
  }

  /** Waits until instance `key` exists and `check` holds for it; returns its row. */
  untilInstance(
    key: string,
    check: (row: InstanceJson) => boolean,
    options: WaitOptions = {},
  ): Promise<InstanceJson> {
    return waitFor(async () => {
      const r = await this.instance(key);
      return r !== undefined && check(r) ? r : undefined;
    }, { what: key, ...options });
  }

  /** Waits until instance `key` has `status`; returns its row. */
  untilStatus(
    key: string,
    status: InstanceJson["status"],
    options: WaitOptions = {},
  ): Promise<InstanceJson> {
    return this.untilInstance(key, (r) => r.status === status, {
      what: `${key} ${status}`,
      ...options,
    });
  }

  /** Waits until instance `key` is running; returns its row. */
  running(key: string, options: WaitOptions = {}): Promise<InstanceJson> {
    return this.untilStatus(key, "running", options);
  }

  /**
   * A proxied request with the given Host (through a raw client: `fetch()` ignores a Host
   * header). Records the pid an app reports, so its group is checked at dispose.
   */
  async request(host: string, path = "/", options: RawRequestOptions = {}): Promise<RawResponse> {
    const res = await rawRequest(this.port, host, path, options);
    this.recordPid(res.body);
    return res;
  }

  /** `GET /metrics` text, with the admin token (`/metrics` needs one). */
  async metrics(): Promise<string> {
    return (await rawRequest(this.port, "localhost", "/metrics", {
      headers: { authorization: `Bearer ${this.token}` },
      timeoutMs: 10_000,
    })).body;
  }
}
