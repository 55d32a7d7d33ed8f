/**
 * `ten logs [service:id]`: stored output and lifecycle events of instances, searched in full
 * text, or a live tail with `-f` (recent lines first, then new ones, resumed after the last id
 * seen so nothing falls between the two).
 * @module
 */
import { formatInstanceKey, parseInstanceKey } from "../../core/instance_key.ts";
import { InvalidInputError } from "../../core/errors.ts";
import type { LogEntryJson } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { out } from "../output.ts";
import { formatLogTime } from "../log_time.ts";
import { clientFor } from "./client_verbs.ts";

/** Options of `ten logs` (`since`/`until` already parsed to Unix ms by the option parser). */
export interface LogsOptions {
  readonly level?: string;
  readonly search?: string;
  readonly limit?: string;
  readonly since?: number;
  readonly until?: number;
  readonly follow?: boolean;
  readonly json?: boolean;
  readonly utc?: boolean;
}

/** Lines `-f` shows before following, unless `--limit` says otherwise. */
const FOLLOW_HISTORY_LINES = "10";

/** `ten logs`. */
export async function logsVerb(
  target: string | undefined,
  options: LogsOptions,
  globals: GlobalOptions,
): Promise<number> {
  const query = new URLSearchParams();
  if (target !== undefined) {
    const ref = parseInstanceKey(target);
    query.set("process", ref.service);
    query.set("id", ref.id);
  }
  if (options.level !== undefined) {
    if (options.level !== "stdout" && options.level !== "stderr" && options.level !== "event") {
      throw new InvalidInputError(
        `Invalid --level "${options.level}": expected stdout, stderr or event`,
        "level",
      );
    }
    query.set("level", options.level);
  }
  if (options.search !== undefined) query.set("search", options.search);
  const limit = options.limit ?? (options.follow ? FOLLOW_HISTORY_LINES : "100");
  if (!/^\d+$/.test(limit)) {
    throw new InvalidInputError(`Invalid --limit "${limit}": expected a whole number`, "limit");
  }
  const history = new URLSearchParams(query);
  history.set("limit", limit);
  if (options.since !== undefined) history.set("since", String(options.since));
  if (options.until !== undefined) history.set("until", String(options.until));
  const client = await clientFor(globals);
  const entries = await client.logs(history);
  const print = (entry: LogEntryJson): void => {
    if (options.json) out.line(JSON.stringify(entry));
    else out.line(logLine(entry, options.utc === true));
  };
  if (!options.follow) {
    if (options.json) out.json(entries);
    else for (const entry of entries) print(entry);
    return 0;
  }
  for (const entry of entries) print(entry);
  // Resume after the newest line shown, so none stored meanwhile is missed; with none shown,
  // from the first matching line (there was none a moment ago), unless no history was asked for.
  const lastId = entries.at(-1)?.id ?? (Number(limit) === 0 ? undefined : 0);
  if (lastId !== undefined) query.set("after", String(lastId));
  if (options.since !== undefined) query.set("since", String(options.since));
  const res = await client.logStream(query);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of res.body!) {
    buffered += decoder.decode(chunk, { stream: true });
    let end = buffered.indexOf("\n\n");
    while (end >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) print(JSON.parse(line.slice(6)) as LogEntryJson);
      }
      end = buffered.indexOf("\n\n");
    }
  }
  return 0;
}

/** `HH:MM:SS [OUT] service:id message` (`[ERR]` for stderr, `[EVT]` for lifecycle events). */
function logLine(entry: LogEntryJson, isUtc: boolean): string {
  const stream = entry.level === "stderr" ? "ERR" : entry.level === "event" ? "EVT" : "OUT";
  const key = formatInstanceKey({ service: entry.process, id: entry.instance_id });
  const time = formatLogTime(entry.timestamp, { isUtc, nowMs: Date.now() });
  return `${time} [${stream}] ${key} ${entry.message}`;
}
