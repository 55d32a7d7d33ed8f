/**
 * `ten ps` / `ten ls`: the instance table, as the original prints it; `--all` adds asleep,
 * stopped, failed and disabled instances with their status and reason. Columns keep the original widths
 * and widen to fit their longest value, so every row stays aligned.
 * @module
 */
import { formatDuration } from "../../core/format.ts";
import type { InstanceJson } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { alignColumns, out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** `ten ps [--all] [--json]`. */
export async function psVerb(
  options: { all?: boolean; json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const client = await clientFor(globals);
  const rows = await client.listInstances(options.all === true);
  if (options.json) {
    out.json(rows);
    return 0;
  }
  if (rows.length === 0) {
    out.line(options.all ? "No instances" : "No running instances");
    out.line(`Server: ${client.server}`);
    return 0;
  }
  for (const line of psTable(rows, options.all === true)) out.line(line);
  out.line();
  const running = rows.filter((instance) => instance.pid !== null).length;
  out.line(
    options.all
      ? `${rows.length} instance(s), ${running} running on ${client.server}`
      : `${rows.length} instance(s) running on ${client.server}`,
  );
  return 0;
}

/** Columns of `ten ps` and their original (minimum) widths. */
const COLUMNS = [
  ["INSTANCE", 20],
  ["LISTEN", 20],
  ["UPTIME", 10],
  ["IDLE", 10],
  ["HEALTH", 8],
  ["WEIGHT", 6],
] as const;

/** The columns `--all` adds. */
const ALL_COLUMNS = [["STATUS", 9], ["REASON", 0]] as const;

/**
 * The header and one aligned line per instance, in the order given. Pure: no I/O.
 * @param isAll add the STATUS and REASON columns of `ps --all`.
 */
export function psTable(rows: readonly InstanceJson[], isAll: boolean): string[] {
  const columns = isAll ? [...COLUMNS, ...ALL_COLUMNS] : COLUMNS;
  return alignColumns(
    [columns.map(([name]) => name), ...rows.map((instance) => cellsOf(instance, isAll))],
    columns.map(([, width]) => width),
  );
}

function cellsOf(instance: InstanceJson, isAll: boolean): string[] {
  const cells = [
    instance.id,
    instance.socket === "" ? "-" : instance.socket,
    instance.pid === null ? "-" : formatDuration(instance.uptime_secs),
    formatDuration(instance.idle_secs),
    instance.health,
    String(instance.weight),
  ];
  if (isAll) {
    let reason = instance.reason ?? "";
    if (instance.retry_in_secs !== null) {
      reason += `${reason ? "; " : ""}retry in ${instance.retry_in_secs}s`;
    }
    cells.push(instance.status, reason);
  }
  return cells;
}
