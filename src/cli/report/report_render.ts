/**
 * `ten report`'s output: text for a terminal or cron mail, Markdown for chat and tickets, JSON
 * for programs, and the one-line summary a webhook's `text` carries. Pure: returns strings.
 * @module
 */
import { formatBytes, formatDuration } from "../../core/format.ts";
import type { DownReport, InstanceReport, Report } from "./report_model.ts";

/** The formats of `--format`. */
export type ReportFormat = "text" | "json" | "markdown";

/** The values `--format` accepts. */
export const REPORT_FORMATS: readonly ReportFormat[] = ["text", "json", "markdown"];

/** `report` in `format`, ending with a newline. */
export function renderReport(report: Report | DownReport, format: ReportFormat): string {
  if (format === "json") return `${JSON.stringify(report, null, 2)}\n`;
  if (!report.ok) {
    const line = format === "markdown" ? `**${report.error}**` : report.error;
    return `${headline(report)}\n\n${line}\n`;
  }
  return format === "markdown" ? markdownOf(report) : textOf(report);
}

/**
 * One or two lines for a chat message: the verdict, the counts, and the instances in trouble.
 *
 * @example
 * ```ts
 * import { match } from "node:assert/strict";
 * import { downReport } from "./report_model.ts";
 * match(shortSummary(downReport("http://h:8080", "refused", 0)), /not answering at http:\/\/h:8080/);
 * ```
 */
export function shortSummary(report: Report | DownReport): string {
  if (!report.ok) return `tenement DOWN: ${report.error}`;
  const s = report.summary;
  const trouble = report.instances.filter((row) => row.is_unhealthy).map((row) =>
    `${row.id} ${row.is_failed ? "failed" : row.health}`
  );
  const restarts = s.restarts === null ? "" : `${s.restarts} restart(s), `;
  const counts = `${s.instances} instance(s), ${s.running} running, ${s.healthy} healthy, ` +
    `${s.unhealthy} unhealthy, ${s.failed} failed, ${restarts}${s.error_lines} error line(s)`;
  return `tenement ${report.verdict.toUpperCase()} at ${report.server}: ${counts}` +
    (trouble.length > 0 ? `\nneeds attention: ${trouble.slice(0, 10).join(", ")}` : "");
}

function headline(report: Report | DownReport): string {
  return `tenement report for ${report.server} at ${report.generated_at}`;
}

function windowText(report: Report): string {
  return `last ${formatDuration(report.window.secs)}, since ${report.window.since}`;
}

function textOf(report: Report): string {
  const lines = [headline(report), windowText(report), "", shortSummary(report), ""];
  for (const row of report.instances) {
    lines.push(`${row.id}: ${stateOf(row)}`);
    for (const fact of factsOf(row)) lines.push(`  ${fact}`);
    for (const error of row.top_errors) lines.push(`    ${error.count}× ${error.message}`);
  }
  if (report.instances.length === 0) lines.push("No instances");
  const certs = certificateEntries(report);
  if (certs.length > 0) lines.push("", "Certificates:", ...certs.map((line) => `  ${line}`));
  lines.push("");
  for (const note of report.notes) lines.push(`Note: ${note}`);
  return `${lines.join("\n")}\n`;
}

function markdownOf(report: Report): string {
  const lines = [
    `## ${headline(report)}`,
    "",
    `${windowText(report)}`,
    "",
    ...shortSummary(report).split("\n").map((line, i) => i === 0 ? `**${line}**` : line),
    "",
    "| instance | state | restarts | failures | OOM | wakes (p95) | disk | errors |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const row of report.instances) {
    lines.push(
      `| ${cell(row.id)} | ${cell(stateOf(row))} | ${row.restarts ?? "?"} | ${
        row.failures ?? "?"
      } | ${row.oom_kills ?? "?"} | ${wakesOf(row)} | ${diskOf(row)} | ${row.error_lines} |`,
    );
  }
  for (const row of report.instances.filter((r) => r.top_errors.length > 0)) {
    lines.push("", `### ${cell(row.id)}: top error lines`, "");
    for (const error of row.top_errors) lines.push(`- ${error.count}× \`${code(error.message)}\``);
  }
  const certs = certificateEntries(report);
  if (certs.length > 0) lines.push("", "### Certificates", "", ...certs.map((l) => `- ${l}`));
  lines.push("");
  for (const note of report.notes) lines.push(`_${note}_`);
  return `${lines.join("\n")}\n`;
}

function stateOf(row: InstanceReport): string {
  const health = row.health === "unknown" || row.health === row.status ? "" : `, ${row.health}`;
  return `${row.status}${health}${row.reason === null ? "" : ` (${row.reason})`}`;
}

function factsOf(row: InstanceReport): string[] {
  const facts = [
    `restarts ${row.restarts ?? "?"} (${row.restarts_total} in all)`,
    `failures ${row.failures ?? "?"}`,
    `OOM kills ${row.oom_kills ?? "?"}${row.last_exit_oom ? " (last exit: out of memory)" : ""}`,
    `wakes ${wakesOf(row)}`,
    `disk ${diskOf(row)}`,
    `error lines ${row.error_lines}`,
  ];
  return [facts.join(", ")];
}

function wakesOf(row: InstanceReport): string {
  if (row.wakes === null) return "?";
  return row.wake_p95_ms === null ? String(row.wakes) : `${row.wakes} (p95 ${row.wake_p95_ms} ms)`;
}

function diskOf(row: InstanceReport): string {
  const used = formatBytes(row.storage_used_bytes);
  return row.storage_quota_bytes === null
    ? used
    : `${used} of ${formatBytes(row.storage_quota_bytes)}`;
}

function certificateEntries(report: Report): string[] {
  const lines: string[] = [];
  for (const cert of report.certificates ?? []) {
    const expiry = cert.not_after === null
      ? "not issued yet"
      : `expires ${cert.not_after} (${cert.days_left} days)`;
    const error = cert.last_error === null ? "" : `; last error: ${cert.last_error}`;
    lines.push(`${cert.names.join(", ")}: ${expiry}${error}`);
  }
  return lines;
}

/** A Markdown table cell: pipes escaped, on one line. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Text inside backticks: backticks replaced so the span stays closed. */
function code(text: string): string {
  return text.replace(/`/g, "'").replace(/\n/g, " ");
}
