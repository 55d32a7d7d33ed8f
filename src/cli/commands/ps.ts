/**
 * `ten ps` / `ten ls`: the instance table, as the original prints it; `--all` adds asleep,
 * stopped and failed instances with their status and reason.
 * @module
 */
import { formatDuration } from "../../core/format.ts";
import type { InstanceJson } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { out, pad } from "../output.ts";
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
  const header = [
    pad("INSTANCE", 20),
    pad("LISTEN", 20),
    pad("UPTIME", 10),
    pad("IDLE", 10),
    pad("HEALTH", 8),
    pad("WEIGHT", 6),
  ];
  if (options.all) header.push(pad("STATUS", 9), "REASON");
  out.line(header.join(" ").trimEnd());
  for (const instance of rows) out.line(row(instance, options.all === true));
  out.line();
  const running = rows.filter((instance) => instance.pid !== null).length;
  out.line(
    options.all
      ? `${rows.length} instance(s), ${running} running on ${client.server}`
      : `${rows.length} instance(s) running on ${client.server}`,
  );
  return 0;
}

function row(instance: InstanceJson, isAll: boolean): string {
  const cells = [
    pad(instance.id, 20),
    pad(instance.socket === "" ? "-" : instance.socket, 20),
    pad(instance.pid === null ? "-" : formatDuration(instance.uptime_secs), 10),
    pad(formatDuration(instance.idle_secs), 10),
    pad(instance.health, 8),
    pad(String(instance.weight), 6),
  ];
  if (isAll) {
    let reason = instance.reason ?? "";
    if (instance.retry_in_secs !== null) {
      reason += `${reason ? "; " : ""}retry in ${instance.retry_in_secs}s`;
    }
    cells.push(pad(instance.status, 9), reason);
  }
  return cells.join(" ").trimEnd();
}
