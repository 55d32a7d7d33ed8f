/**
 * Waiting out the start-up of an explicitly started run (spawn, restart, deploy): ready, a
 * warning when the app listens but its health check has not passed, or a SpawnError saying why
 * the run ended and that the instance is stopped.
 * @module
 */
import type { ServiceConfig } from "../config/schema.ts";
import { SpawnError } from "../core/errors.ts";
import { hasEnded, isStartingUp, reasonOf } from "../core/lifecycle.ts";
import { waitAtMost } from "./delay.ts";
import { PROBE_TIMEOUT_MS } from "./health_loop.ts";
import type { InstanceEntry } from "./instance_entry.ts";
import type { Clock } from "./ports.ts";

/**
 * Waits until the start-up of the entry's run is over. Resolves with nothing once it is ready,
 * or with a warning naming the failing check when the app listens but its check did not pass in
 * time (it keeps running under the health policy). Throws SpawnError when the run ended
 * meanwhile: it exited or never listened (and was stopped), or someone stopped it.
 */
export async function awaitStartup(
  entry: InstanceEntry,
  svc: ServiceConfig,
  clock: Clock,
): Promise<string | undefined> {
  // The health loop ends the start-up; its last probe and a stop may take a little longer.
  const deadline = clock.now() + svc.startupTimeoutMs + PROBE_TIMEOUT_MS +
    svc.stopGracePeriodMs + 1_000;
  while (true) {
    const state = entry.state;
    if (state.kind === "ready") return undefined;
    if (hasEnded(state)) {
      const failure = entry.startupFailure;
      if (failure === undefined) {
        throw new SpawnError(
          `${entry.key} exited during start-up: ${reasonOf(state) ?? "unknown"}`,
        );
      }
      throw new SpawnError(
        `${failure}. ${entry.key} is stopped; fix it and run ten spawn again`,
        { details: stderrDetails(entry.stderrTail) },
      );
    }
    if (!isStartingUp(state) && state.kind !== "stopping") break;
    const left = deadline - clock.now();
    if (left <= 0) break;
    await waitAtMost(entry.changed.promise, Math.min(left, 250), { clock });
  }
  const check = svc.health !== undefined
    ? `GET ${svc.health}`
    : `TCP connect to port ${entry.port ?? "?"}`;
  const result = (entry.lastProbe ?? "no result yet").replace(/^HTTP (\d{3})$/, "$1");
  return `${entry.key} is not healthy after ${
    seconds(svc.startupTimeoutMs)
  } s (${check} → ${result}); it keeps running, and is restarted while its health check fails`;
}

/** The stderr tail as error details. */
export function stderrDetails(tail: readonly string[]): string[] {
  return tail.length > 0 ? ["stderr:", ...tail.map((line) => `  ${line}`)] : [];
}

/** Milliseconds as seconds for messages: `10`, `0.5`. */
export function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
