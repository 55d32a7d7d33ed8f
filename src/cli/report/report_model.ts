/**
 * The model of `ten report`: what the daemon's API said, summed up per instance over a window,
 * and whether a `--fail-on` threshold is crossed. Pure: the answers and the time come in.
 * @module
 */
import type { CertsResponse, InstanceJson, LogEntryJson } from "../../api/wire.ts";
import { classifyEvent } from "../../core/lifecycle_events.ts";

/** `--fail-on`: what makes the report exit 1. */
export type FailOn = "unhealthy" | "failed" | "never";

/** The values `--fail-on` accepts. */
export const FAIL_ON_VALUES: readonly FailOn[] = ["unhealthy", "failed", "never"];

/** How the box is: `failed` when an instance failed, `unhealthy` when one is unhealthy. */
export type Verdict = "ok" | "unhealthy" | "failed";

/** An error line and how often it was written in the window. */
export interface ErrorLineCount {
  readonly message: string;
  readonly count: number;
}

/** One instance in the report. */
export interface InstanceReport {
  /** `service:id`. */
  readonly id: string;
  readonly status: InstanceJson["status"];
  readonly health: InstanceJson["health"];
  /** Why it is failed, stopped or backing off. */
  readonly reason: string | null;
  /** Restarts recorded for the instance in all (what `ten ps` shows). */
  readonly restarts_total: number;
  /** Failed, or retrying after it failed (it has not been ready since). */
  readonly is_failed: boolean;
  readonly is_unhealthy: boolean;
  /**
   * From the lifecycle events in the window (null when they could not be read): restarts
   * scheduled, failures (runs that ended by a signal, the OOM killer or a non-zero code), OOM
   * kills, and wakes for a request with their p95 in ms (null without wakes).
   */
  readonly restarts: number | null;
  readonly failures: number | null;
  readonly oom_kills: number | null;
  readonly wakes: number | null;
  readonly wake_p95_ms: number | null;
  /** True when its last run ended out of memory. */
  readonly last_exit_oom: boolean;
  readonly storage_used_bytes: number;
  readonly storage_quota_bytes: number | null;
  /** stderr lines in the window. */
  readonly error_lines: number;
  /** The most repeated stderr lines in the window, most frequent first. */
  readonly top_errors: readonly ErrorLineCount[];
}

/** One TLS certificate's expiry. */
export interface CertificateReport {
  readonly names: readonly string[];
  readonly not_after: string | null;
  /** Whole days left (negative once expired); null when not issued yet. */
  readonly days_left: number | null;
  readonly last_error: string | null;
}

/** A report that could be made. */
export interface Report {
  readonly ok: true;
  readonly server: string;
  readonly generated_at: string;
  readonly window: { readonly since: string; readonly secs: number };
  readonly verdict: Verdict;
  readonly summary: {
    readonly instances: number;
    readonly running: number;
    readonly healthy: number;
    readonly unhealthy: number;
    readonly failed: number;
    readonly restarts_total: number;
    /** Sums over the window (null when the lifecycle events could not be read). */
    readonly restarts: number | null;
    readonly failures: number | null;
    readonly oom_kills: number | null;
    readonly wakes: number | null;
    readonly error_lines: number;
    readonly storage_used_bytes: number;
  };
  readonly instances: readonly InstanceReport[];
  /** Null when built-in TLS is off or the certificates could not be read. */
  readonly certificates: readonly CertificateReport[] | null;
  /** What could not be read, and what the numbers cover. */
  readonly notes: readonly string[];
}

/** The report when the daemon could not be asked: the most important one. */
export interface DownReport {
  readonly ok: false;
  readonly server: string;
  readonly generated_at: string;
  readonly verdict: "down";
  /** `tenement is not answering at URL: reason` (or why it could not be asked). */
  readonly error: string;
}

/** What the API answered, for {@linkcode buildReport}. */
export interface ReportInput {
  readonly server: string;
  readonly nowMs: number;
  /** Length of the window, in ms. */
  readonly windowMs: number;
  /** `GET /api/instances?all=true`. */
  readonly instances: readonly InstanceJson[];
  /** stderr lines from `GET /api/logs` (any times: those before the window are left out). */
  readonly stderrLines: readonly LogEntryJson[];
  /**
   * Lifecycle events (`level=event`) from `GET /api/logs`, any order and times (those before the
   * window are left out); undefined when they could not be read.
   */
  readonly events: readonly LogEntryJson[] | undefined;
  /** `GET /api/tls/certs`; undefined when it could not be read. */
  readonly certs: CertsResponse | undefined;
  /** Notes from gathering (what could not be read and why). */
  readonly notes?: readonly string[];
}

/** Error lines listed per instance, at most. */
export const TOP_ERRORS = 5;
/** Characters of an error line kept in the report. */
export const ERROR_LINE_CHARS = 200;

const DAY_MS = 86_400_000;
/**
 * How describeExit() starts an end by the OOM killer. Anchored: the reason of any other end may
 * quote the app's last stderr line, which the app chooses.
 */
const OOM = /^out of memory \(memory_limit_mb = /;

/** What the lifecycle events of one instance say about the window. */
interface WindowFacts {
  restarts: number;
  failures: number;
  oomKills: number;
  wakeMs: number[];
  /** Row id of the newest `failed` event, and of the newest `ready` one (0: none). */
  lastFailedId: number;
  lastReadyId: number;
}

/** The lifecycle events in the window, summed up per `service:id`. */
function windowFactsOf(
  events: readonly LogEntryJson[],
  sinceMs: number,
): Map<string, WindowFacts> {
  const byInstance = new Map<string, WindowFacts>();
  for (const event of events) {
    if (event.level !== "event" || event.timestamp < sinceMs) continue;
    const fact = classifyEvent(event.message);
    if (fact === undefined) continue;
    const key = `${event.process}:${event.instance_id}`;
    let facts = byInstance.get(key);
    if (facts === undefined) {
      facts = {
        restarts: 0,
        failures: 0,
        oomKills: 0,
        wakeMs: [],
        lastFailedId: 0,
        lastReadyId: 0,
      };
      byInstance.set(key, facts);
    }
    switch (fact.kind) {
      case "restart":
        facts.restarts++;
        break;
      case "exit":
        if (fact.isCrash) facts.failures++;
        break;
      case "oom":
        facts.oomKills++;
        break;
      case "failed":
        facts.lastFailedId = Math.max(facts.lastFailedId, event.id);
        break;
      case "ready":
        facts.lastReadyId = Math.max(facts.lastReadyId, event.id);
        break;
      case "wake":
        facts.wakeMs.push(fact.ms);
        break;
    }
  }
  return byInstance;
}

/**
 * The nearest-rank 95th percentile of `values`, or null when there are none.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(p95([10, 20, 30, 40]), 40);
 * equal(p95(Array.from({ length: 100 }, (_, i) => i + 1)), 95);
 * equal(p95([]), null);
 * ```
 */
export function p95(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * 0.95) - 1]!;
}

/** The report of `input`. */
export function buildReport(input: ReportInput): Report {
  const sinceMs = input.nowMs - input.windowMs;
  const linesByInstance = new Map<string, string[]>();
  for (const line of input.stderrLines) {
    if (line.level !== "stderr" || line.timestamp < sinceMs) continue;
    const key = `${line.process}:${line.instance_id}`;
    const list = linesByInstance.get(key) ?? [];
    list.push(line.message);
    linesByInstance.set(key, list);
  }
  const facts = input.events === undefined ? undefined : windowFactsOf(input.events, sinceMs);
  const instances = [...input.instances]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((row) => instanceReport(row, linesByInstance.get(row.id) ?? [], facts));
  const notes = [...(input.notes ?? [])];
  notes.push(
    "restarts, failures (runs ended by a signal, the OOM killer or a non-zero code), OOM kills " +
      "and wakes are counted from the lifecycle events in the window; restarts_total is all " +
      "restarts; error lines are stderr lines in the window",
  );
  return {
    ok: true,
    server: input.server,
    generated_at: new Date(input.nowMs).toISOString(),
    window: { since: new Date(sinceMs).toISOString(), secs: Math.round(input.windowMs / 1000) },
    verdict: verdictOf(instances),
    summary: summaryOf(instances, facts !== undefined),
    instances,
    certificates: input.certs?.enabled === true
      ? input.certs.certificates.map((cert) => certificateReport(cert, input.nowMs))
      : null,
    notes,
  };
}

function instanceReport(
  row: InstanceJson,
  lines: readonly string[],
  factsByInstance: ReadonlyMap<string, WindowFacts> | undefined,
): InstanceReport {
  const facts = factsByInstance?.get(row.id);
  const isKnown = factsByInstance !== undefined;
  // A failed instance is retried at the longest backoff: while that retry starts (or backs off
  // again) its status is not "failed", but it has not been ready since it failed.
  const isRetryingAfterFailure = (row.status === "starting" || row.status === "backoff") &&
    facts !== undefined && facts.lastFailedId > facts.lastReadyId;
  const isFailed = row.status === "failed" || row.health === "failed" || isRetryingAfterFailure;
  return {
    id: row.id,
    status: row.status,
    health: row.health,
    reason: row.reason === null ? null : visibleText(row.reason),
    restarts_total: row.restarts,
    is_failed: isFailed,
    is_unhealthy: isFailed || row.health === "unhealthy",
    restarts: isKnown ? facts?.restarts ?? 0 : null,
    failures: isKnown ? facts?.failures ?? 0 : null,
    oom_kills: isKnown ? facts?.oomKills ?? 0 : null,
    wakes: isKnown ? facts?.wakeMs.length ?? 0 : null,
    wake_p95_ms: p95(facts?.wakeMs ?? []),
    last_exit_oom: OOM.test(row.reason ?? ""),
    storage_used_bytes: row.storage_used_bytes,
    storage_quota_bytes: row.storage_quota_bytes,
    error_lines: lines.length,
    top_errors: topLines(lines, TOP_ERRORS),
  };
}

/**
 * The `limit` most repeated lines (cut to {@linkcode ERROR_LINE_CHARS}), most frequent first,
 * then in order of first appearance.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(topLines(["a", "b", "b"], 1), [{ message: "b", count: 2 }]);
 * ```
 */
export function topLines(lines: readonly string[], limit: number): ErrorLineCount[] {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const cut = line.length > ERROR_LINE_CHARS ? `${line.slice(0, ERROR_LINE_CHARS)}…` : line;
    const message = visibleText(cut);
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([message, count]) => ({ message, count }))
    .sort((a, b) => b.count - a.count)
    .slice(0, limit);
}

/**
 * Control characters (but tab) and bidirectional overrides: an app's line carrying them could
 * move the cursor, rewrite the verdict above it or reorder text where the report is read.
 */
// deno-lint-ignore no-control-regex -- control characters are what it finds
const INVISIBLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with {@linkcode INVISIBLE} characters written as `\uXXXX` escapes. */
function visibleText(text: string): string {
  return text.replace(INVISIBLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function verdictOf(instances: readonly InstanceReport[]): Verdict {
  if (instances.some((row) => row.is_failed)) return "failed";
  if (instances.some((row) => row.is_unhealthy)) return "unhealthy";
  return "ok";
}

function summaryOf(instances: readonly InstanceReport[], hasEvents: boolean): Report["summary"] {
  const sum = (pick: (row: InstanceReport) => number): number =>
    instances.reduce((total, row) => total + pick(row), 0);
  const sumOfWindow = (pick: (row: InstanceReport) => number | null): number | null =>
    hasEvents ? sum((row) => pick(row) ?? 0) : null;
  return {
    instances: instances.length,
    running: instances.filter((row) => row.status === "running").length,
    healthy: instances.filter((row) => row.health === "healthy").length,
    unhealthy: instances.filter((row) => row.is_unhealthy && !row.is_failed).length,
    failed: instances.filter((row) => row.is_failed).length,
    restarts_total: sum((row) => row.restarts_total),
    restarts: sumOfWindow((row) => row.restarts),
    failures: sumOfWindow((row) => row.failures),
    oom_kills: sumOfWindow((row) => row.oom_kills),
    wakes: sumOfWindow((row) => row.wakes),
    error_lines: sum((row) => row.error_lines),
    storage_used_bytes: sum((row) => row.storage_used_bytes),
  };
}

function certificateReport(cert: CertsResponse["certificates"][number], nowMs: number) {
  const expiresMs = cert.not_after === null ? Number.NaN : Date.parse(cert.not_after);
  return {
    names: cert.names,
    not_after: cert.not_after,
    days_left: Number.isFinite(expiresMs) ? Math.floor((expiresMs - nowMs) / DAY_MS) : null,
    last_error: cert.last_error,
  } satisfies CertificateReport;
}

/**
 * The report of a daemon that could not be asked: it did not answer (`isAnswering` false), or
 * it answered with an error (a refused token), or the client could not ask (no token).
 */
export function downReport(
  server: string,
  reason: string,
  nowMs: number,
  isAnswering = false,
): DownReport {
  return {
    ok: false,
    server,
    generated_at: new Date(nowMs).toISOString(),
    verdict: "down",
    error: isAnswering
      ? `tenement at ${server} could not be asked for a report: ${reason}`
      : `tenement is not answering at ${server}: ${reason}`,
  };
}

/**
 * True when `report` crosses `failOn`: `unhealthy` (an instance unhealthy or failed), `failed`
 * (an instance failed), `never`. A down daemon always crosses it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { downReport } from "./report_model.ts";
 * equal(isThresholdCrossed(downReport("http://x", "refused", 0), "never"), true);
 * ```
 */
export function isThresholdCrossed(report: Report | DownReport, failOn: FailOn): boolean {
  if (!report.ok) return true;
  if (failOn === "never") return false;
  if (failOn === "failed") return report.verdict === "failed";
  return report.verdict !== "ok";
}
