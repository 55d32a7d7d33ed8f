/**
 * `ten deploy`, `ten route`, `ten rollback` and `ten history`: ship a new version, move the
 * traffic, and undo it.
 * @module
 */
import {
  assertValidName,
  formatInstanceKey,
  type InstanceRef,
  parseInstanceKey,
} from "../../core/instance_key.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { assertWeight } from "../../core/weights.ts";
import type { DeployPlanResponse, InstanceJson } from "../../api/wire.ts";
import { type ApiClient, ApiError } from "../api_client.ts";
import type { GlobalOptions } from "../global_options.ts";
import { out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** Options of `ten deploy`. */
export interface DeployOptions {
  /** Absent: the server's blue-green default (100 for a service's first, else 0). */
  readonly weight?: string | undefined;
  readonly timeout: string;
}

/** `ten deploy service:version [--weight W] [--timeout S]`. */
export async function deployVerb(
  target: string,
  options: DeployOptions,
  globals: GlobalOptions,
): Promise<number> {
  const ref = parseInstanceKey(target);
  const weight = options.weight === undefined
    ? undefined
    : assertWeight(/^\d+$/.test(options.weight) ? Number(options.weight) : options.weight);
  if (!/^\d+$/.test(options.timeout) || Number(options.timeout) < 1) {
    throw new InvalidInputError(
      `Invalid --timeout "${options.timeout}": expected seconds`,
      "timeout",
    );
  }
  const timeout = Number(options.timeout);
  const key = formatInstanceKey(ref);
  const client = await clientFor(globals);
  // Asked first, so a deploy the server refuses (a tenant token, a bad body) prints no progress.
  const planned = (await planOf(client, ref, weight, timeout))?.weight ?? weight;
  out.line(planned === undefined ? `Deploying ${key}` : `Deploying ${key} with weight ${planned}`);
  out.line(`Waiting for health check (timeout: ${timeout}s)...`);
  const done = new AbortController();
  const progress = watchProgress(client, ref, done.signal);
  try {
    const res = await client.deploy(ref, weight, timeout);
    done.abort();
    await progress;
    out.line(`Deployed ${res.instance}`);
    out.line(`Weight: ${res.weight}`);
    out.line(`Status: ${res.status}`);
    for (const line of nextSteps(ref, res.weight, res.others_with_traffic ?? [])) out.line(line);
    return 0;
  } finally {
    done.abort();
    await progress;
  }
}

/** The server's plan for this deploy; undefined from a server without the plan route. */
async function planOf(
  client: ApiClient,
  ref: InstanceRef,
  weight: number | undefined,
  timeout: number,
): Promise<DeployPlanResponse | undefined> {
  try {
    return await client.deployPlan(ref, weight, timeout);
  } catch (error: unknown) {
    if (error instanceof ApiError && error.message.startsWith("Not found")) return undefined;
    throw error;
  }
}

/**
 * What to do next when the deployed version got no traffic while others keep it:
 * `v1 keeps all traffic; next: ten route notes --from v1 --to v2`.
 */
function nextSteps(
  ref: InstanceRef,
  weight: number,
  othersWithTraffic: readonly string[],
): string[] {
  if (weight !== 0 || othersWithTraffic.length === 0) return [];
  const ids = othersWithTraffic.map((key) => parseInstanceKey(key).id);
  const route = (from: string): string => `ten route ${ref.service} --from ${from} --to ${ref.id}`;
  if (ids.length === 1) return [`${ids[0]} keeps all traffic; next: ${route(ids[0]!)}`];
  const names = `${ids.slice(0, -1).join(", ")} and ${ids.at(-1)}`;
  return [`${names} keep all traffic; next:`, ...ids.map((id) => `  ${route(id)}`)];
}

/** Prints a line whenever the new instance's state changes, until `signal` aborts. */
async function watchProgress(
  client: ApiClient,
  ref: { service: string; id: string },
  signal: AbortSignal,
): Promise<void> {
  let last = "";
  while (!signal.aborted) {
    let row: InstanceJson | undefined;
    try {
      row = await client.instance(ref);
    } catch {
      row = undefined;
    }
    if (row && !signal.aborted) {
      const line = describe(row);
      if (line !== last) {
        out.line(`  ${line}`);
        last = line;
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 250);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}

function describe(row: InstanceJson): string {
  const pid = row.pid === null ? "" : ` (pid ${row.pid})`;
  return `${row.status}${pid}, health: ${row.health}`;
}

/** `ten route service --from A --to B [--stop-old]`. */
export async function routeVerb(
  service: string,
  options: { from: string; to: string; stopOld?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  assertValidName(service, "service");
  assertValidName(options.from, "id", "from");
  assertValidName(options.to, "id", "to");
  const res = await (await clientFor(globals)).route(
    service,
    options.from,
    options.to,
    options.stopOld === true,
  );
  out.line(`Routed traffic: ${res.from_instance} -> ${res.to_instance}`);
  out.line(`  ${res.from_instance} weight = ${res.from_weight}`);
  out.line(`  ${res.to_instance} weight = ${res.to_weight}`);
  if (options.stopOld) out.line(`Stopped ${res.from_instance} after draining`);
  return 0;
}

/** `ten rollback service`. */
export async function rollbackVerb(service: string, globals: GlobalOptions): Promise<number> {
  assertValidName(service, "service");
  const res = await (await clientFor(globals)).rollback(service);
  out.line(`Rolled back ${res.process}`);
  for (const entry of res.weights) out.line(`  ${entry.instance} weight = ${entry.weight}`);
  return 0;
}

/** `ten history [--limit N] [--json]`. */
export async function historyVerb(
  options: { limit: string; json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  if (!/^\d+$/.test(options.limit)) {
    throw new InvalidInputError(`Invalid --limit "${options.limit}": expected a whole number`);
  }
  const rows = await (await clientFor(globals)).history(Number(options.limit));
  if (options.json) {
    out.json(rows);
    return 0;
  }
  if (rows.length === 0) {
    out.line("No history yet");
    return 0;
  }
  for (const entry of rows) {
    const time = new Date(entry.time).toISOString().replace("T", " ").slice(0, 19);
    const details = entry.details === "" ? "" : ` (${entry.details})`;
    out.line(
      `${time}  ${entry.actor.padEnd(14)} ${entry.action.padEnd(8)} ${
        entry.target.padEnd(24)
      } ${entry.outcome}${details}`,
    );
  }
  return 0;
}
