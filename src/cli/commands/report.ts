/**
 * `ten report`: one summary of every instance for cron or a webhook, with an exit code that says
 * whether something is wrong. A daemon that does not answer is reported too (exit 3), since that
 * is the most important report.
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { messageOf, TenementError } from "../../core/errors.ts";
import { parseDurationText } from "../../config/capacity_fields.ts";
import { ApiClient, ApiError } from "../api_client.ts";
import { type GlobalOptions, resolveToken, serverUrl } from "../global_options.ts";
import { err, out } from "../output.ts";
import type { LogEntryJson } from "../../api/wire.ts";
import {
  buildReport,
  type DownReport,
  downReport,
  type FailOn,
  isThresholdCrossed,
  type Report,
} from "../report/report_model.ts";
import { renderReport, type ReportFormat, shortSummary } from "../report/report_render.ts";
import { parseWebhookUrl, postWebhook } from "../report/report_webhook.ts";

/** Exit codes of `ten report`. */
export const REPORT_EXIT = {
  ok: 0,
  /** The `--fail-on` threshold is crossed. */
  thresholdCrossed: 1,
  /** A bad flag (as for every verb). */
  usage: 2,
  /** The daemon did not answer (or refused the report): nothing else could be said. */
  down: 3,
  /** The report was made but the webhook could not be delivered. */
  webhookFailed: 4,
} as const;

/** The help text after the options: exit codes, and what cron sees. */
export const REPORT_HELP = `
Exit codes: 0 all well; 1 the --fail-on threshold is crossed; 2 a bad flag;
3 tenement is not answering (or refused the report); 4 the webhook could not be delivered.

Cron, mailing the report (MAILTO) only when something is wrong:
  */15 * * * *  out=$(ten report --since 1h 2>&1) || echo "$out"`;

/** Options of `ten report`, as parsed by commander. */
export interface ReportOptions {
  readonly since: number;
  readonly format: ReportFormat;
  readonly webhook?: URL | undefined;
  readonly failOn: FailOn;
}

/** How long the daemon has to answer all the report's questions. */
const API_TIMEOUT_MS = 30_000;
/** stderr lines asked for (the newest), to count the top error lines from. */
const LOG_LINES = 2_000;
/** Lifecycle events asked for per page (the API's most), and pages at most. */
const EVENT_PAGE_LINES = 10_000;
const EVENT_PAGES = 10;

/** `--since`'s parser: a duration (`30m`, `24h`, `7d`) in ms, or a usage error naming the flag. */
export function parseSinceOption(text: string): number {
  const ms = parseDurationText(text);
  if (ms === undefined || ms <= 0) {
    throw new InvalidArgumentError("expected a duration such as 30m, 24h or 7d");
  }
  return ms;
}

/** `--webhook`'s parser: an http(s) URL, or a usage error. */
export function parseWebhookOption(text: string): URL {
  try {
    return parseWebhookUrl(text);
  } catch {
    throw new InvalidArgumentError("expected an http:// or https:// URL");
  }
}

/** `ten report`. */
export async function reportVerb(options: ReportOptions, globals: GlobalOptions): Promise<number> {
  const nowMs = Date.now();
  const server = await serverUrl(globals);
  let report: Report | DownReport;
  try {
    report = await gather(server, globals, options.since, nowMs);
  } catch (error: unknown) {
    report = downReport(server, reasonOf(error), nowMs, !isUnreachable(error));
  }
  out.line(renderReport(report, options.format).trimEnd());
  let isDelivered = true;
  if (options.webhook !== undefined) {
    try {
      await postWebhook(options.webhook, { text: shortSummary(report), ...report }, {
        timeoutMs: envMs("TENEMENT_REPORT_WEBHOOK_TIMEOUT_MS") ?? 10_000,
        backoffMs: envMs("TENEMENT_REPORT_WEBHOOK_BACKOFF_MS") ?? 1_000,
        tries: 3,
      });
    } catch (error: unknown) {
      err.line(`Error: ${messageOf(error)}`);
      isDelivered = false;
    }
  }
  if (!report.ok) return REPORT_EXIT.down;
  if (!isDelivered) return REPORT_EXIT.webhookFailed;
  return isThresholdCrossed(report, options.failOn) ? REPORT_EXIT.thresholdCrossed : 0;
}

/**
 * Asks the daemon everything the report needs, all within {@linkcode API_TIMEOUT_MS}; throws
 * when the instance list fails (the daemon is down). What else fails or is late becomes a note,
 * so a slow log query under load does not turn the report into "down".
 */
async function gather(
  server: string,
  globals: GlobalOptions,
  windowMs: number,
  nowMs: number,
): Promise<Report> {
  const deadlineMs = performance.now() + API_TIMEOUT_MS;
  const inTime = <T>(work: Promise<T>): Promise<T> =>
    withTimeout(work, Math.max(1, deadlineMs - performance.now()));
  const client = new ApiClient(server, await resolveToken(globals));
  const instances = await inTime(client.listInstances(true));
  const notes: string[] = [];
  const noted = async <T>(what: string, ask: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await inTime(ask());
    } catch (error: unknown) {
      notes.push(`${what} could not be read: ${messageOf(error)}`);
      return undefined;
    }
  };
  const sinceMs = nowMs - windowMs;
  const query = new URLSearchParams({
    level: "stderr",
    limit: String(LOG_LINES),
    since: new Date(sinceMs).toISOString(),
  });
  const [stderrLines, events, certs] = await Promise.all([
    noted("error lines (/api/logs)", () => client.logs(query)),
    noted(
      "restarts, failures, OOM kills and wakes (/api/logs?level=event)",
      () => windowEvents(client, sinceMs, notes),
    ),
    noted("certificates (/api/tls/certs)", () => client.certs()),
  ]);
  if (stderrLines !== undefined && stderrLines.length >= LOG_LINES) {
    notes.push(`error lines: only the newest ${LOG_LINES} stderr lines were counted`);
  }
  return buildReport({
    server,
    nowMs,
    windowMs,
    instances,
    stderrLines: stderrLines ?? [],
    events,
    certs,
    notes,
  });
}

/**
 * The lifecycle events since `sinceMs`, newest pages first (the API returns the newest `limit`
 * rows of a query), each page ending where the previous one began; at most
 * {@linkcode EVENT_PAGES} pages, with a note in `notes` when the window held more.
 */
async function windowEvents(
  client: ApiClient,
  sinceMs: number,
  notes: string[],
): Promise<LogEntryJson[]> {
  const events: LogEntryJson[] = [];
  const seen = new Set<number>();
  let untilMs: number | undefined;
  for (let page = 0; page < EVENT_PAGES; page++) {
    const query = new URLSearchParams({
      level: "event",
      limit: String(EVENT_PAGE_LINES),
      since: new Date(sinceMs).toISOString(),
    });
    if (untilMs !== undefined) query.set("until", String(untilMs));
    const rows = await client.logs(query);
    // `until` is inclusive: the rows of the boundary millisecond come again.
    const fresh = rows.filter((row) => !seen.has(row.id));
    for (const row of fresh) {
      seen.add(row.id);
      events.push(row);
    }
    if (rows.length < EVENT_PAGE_LINES) return events;
    if (fresh.length === 0) break;
    untilMs = rows[0]!.timestamp;
  }
  notes.push(
    `restarts, failures, OOM kills and wakes: only the newest ${events.length} lifecycle ` +
      "events of the window were counted",
  );
  return events;
}

/** True when the daemon could not be reached or did not answer in time. */
function isUnreachable(error: unknown): boolean {
  return error instanceof UnreachableError ||
    (error instanceof TenementError && !(error instanceof ApiError) &&
      error.message.startsWith("Failed to connect to server"));
}

/** No answer in time. */
class UnreachableError extends Error {
  override name = "UnreachableError";
}

/** Why the daemon could not be asked: the innermost cause (e.g. "Connection refused"). */
function reasonOf(error: unknown): string {
  let deepest: unknown = error;
  while (deepest instanceof Error && deepest.cause !== undefined) deepest = deepest.cause;
  const reason = messageOf(deepest);
  // fetch's message names the URL again before the reason: keep the reason.
  return reason.replace(/^error sending request for url \([^)]*\): /, "");
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new UnreachableError(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A whole number of ms from the environment (testing knobs), or undefined. */
function envMs(name: string): number | undefined {
  const text = Deno.env.get(name);
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}
