/**
 * The thin client verbs: spawn, stop, restart, health, weight. Each checks its argument locally,
 * calls the API, and prints the original tenement's output line.
 * @module
 */
import { formatInstanceKey, parseInstanceKey } from "../../core/instance_key.ts";
import { assertWeight } from "../../core/weights.ts";
import type { HealthResponse } from "../../api/wire.ts";
import { ApiClient } from "../api_client.ts";
import { type GlobalOptions, resolveToken, serverUrl } from "../global_options.ts";
import { err, out, withProgress } from "../output.ts";

/** A client for the configured server and token. */
export async function clientFor(globals: GlobalOptions): Promise<ApiClient> {
  return new ApiClient(await serverUrl(globals), await resolveToken(globals));
}

/** `ten spawn service:id`. */
export async function spawnVerb(target: string, globals: GlobalOptions): Promise<number> {
  const ref = parseInstanceKey(target);
  const client = await clientFor(globals);
  const res = await withProgress(`Starting ${formatInstanceKey(ref)}`, () => client.spawn(ref));
  if (res.already_running === true) {
    const where = [
      ...(res.pid === null ? [] : [`pid ${res.pid}`]),
      ...(res.port === null ? [] : [`port ${res.port}`]),
    ];
    const details = where.length === 0 ? "" : ` (${where.join(", ")})`;
    out.line(`${formatInstanceKey(ref)} is already running${details}`);
    return 0;
  }
  out.line(`Spawned ${formatInstanceKey(ref)}`);
  if (res.port !== null) out.line(`Listening on 127.0.0.1:${res.port}`);
  if (res.warning !== undefined) err.line(`Warning: ${res.warning}`);
  return 0;
}

/** `ten stop service:id`. */
export async function stopVerb(target: string, globals: GlobalOptions): Promise<number> {
  const ref = parseInstanceKey(target);
  await (await clientFor(globals)).stop(ref);
  out.line(`Stopped ${target}`);
  return 0;
}

/** `ten restart service:id`. */
export async function restartVerb(target: string, globals: GlobalOptions): Promise<number> {
  const ref = parseInstanceKey(target);
  await (await clientFor(globals)).restart(ref);
  out.line(`Restarted ${formatInstanceKey(ref)}`);
  return 0;
}

/** `ten health service:id [--json]`. */
export async function healthVerb(
  target: string,
  options: { json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const ref = parseInstanceKey(target);
  const res = await (await clientFor(globals)).health(ref);
  if (options.json) out.json(res);
  else out.line(`${res.instance}: ${healthWord(res)}`);
  return 0;
}

/**
 * The word `ten health` prints: the health, or the status when the health is unknown because
 * nothing was probed (`asleep`, `stopped`, `backoff`, `starting`).
 */
export function healthWord(res: Pick<HealthResponse, "health" | "status">): string {
  return res.health === "unknown" && res.status !== "running" ? res.status : res.health;
}

/** `ten weight service:id N`. */
export async function weightVerb(
  target: string,
  weight: string,
  globals: GlobalOptions,
): Promise<number> {
  const ref = parseInstanceKey(target);
  const value = assertWeight(/^\d+$/.test(weight) ? Number(weight) : weight);
  const res = await (await clientFor(globals)).setWeight(ref, value);
  out.line(`Set ${res.instance} weight to ${res.weight}`);
  return 0;
}
