/**
 * `ten logs [service:id]`: recent output of instances, or a live tail with `-f`.
 * @module
 */
import { formatInstanceKey, parseInstanceKey } from "../../core/instance_key.ts";
import { InvalidInputError } from "../../core/errors.ts";
import type { LogEntryJson } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** Options of `ten logs`. */
export interface LogsOptions {
  readonly level?: string;
  readonly search?: string;
  readonly limit?: string;
  readonly follow?: boolean;
  readonly json?: boolean;
}

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
    if (options.level !== "stdout" && options.level !== "stderr") {
      throw new InvalidInputError(
        `Invalid --level "${options.level}": expected stdout or stderr`,
        "level",
      );
    }
    query.set("level", options.level);
  }
  const client = await clientFor(globals);
  if (options.follow) {
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
          if (!line.startsWith("data: ")) continue;
          out.line(logLine(JSON.parse(line.slice(6)) as LogEntryJson));
        }
        end = buffered.indexOf("\n\n");
      }
    }
    return 0;
  }
  const limit = options.limit ?? "100";
  if (!/^\d+$/.test(limit)) {
    throw new InvalidInputError(`Invalid --limit "${limit}": expected a whole number`, "limit");
  }
  query.set("limit", limit);
  if (options.search !== undefined) query.set("search", options.search);
  const entries = await client.logs(query);
  if (options.json) {
    out.json(entries);
    return 0;
  }
  for (const entry of entries) {
    const time = new Date(entry.timestamp).toISOString().slice(11, 19);
    out.line(`${time} ${logLine(entry)}`);
  }
  return 0;
}

/** `[OUT] service:id message` (or `[ERR]` for stderr). */
function logLine(entry: LogEntryJson): string {
  const stream = entry.level === "stderr" ? "ERR" : "OUT";
  const key = formatInstanceKey({ service: entry.process, id: entry.instance_id });
  return `[${stream}] ${key} ${entry.message}`;
}
