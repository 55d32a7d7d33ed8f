/**
 * Renders metric snapshots in the Prometheus text exposition format. Pure: no I/O.
 * @module
 */
import type { FamilySnapshot, Labels } from "./registry.ts";

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatLabels(labels: Labels, extra?: readonly [string, string]): string {
  const pairs = Object.keys(labels).sort().map((name) => `${name}="${escapeLabel(labels[name]!)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function formatNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/**
 * Renders families in order, each with `# HELP` and `# TYPE`, separated by blank lines.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const text = renderPrometheus([{ name: "x_total", help: "X", type: "counter",
 *   series: [{ labels: { a: "1" }, value: 2 }] }]);
 * equal(text, '# HELP x_total X\n# TYPE x_total counter\nx_total{a="1"} 2\n');
 * ```
 */
export function renderPrometheus(families: readonly FamilySnapshot[]): string {
  const blocks: string[] = [];
  for (const family of families) {
    const lines = [`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`];
    for (const series of family.series) {
      if (family.type !== "histogram") {
        lines.push(
          `${family.name}${formatLabels(series.labels)} ${formatNumber(series.value ?? 0)}`,
        );
        continue;
      }
      for (const [bound, count] of series.buckets ?? []) {
        lines.push(
          `${family.name}_bucket${
            formatLabels(series.labels, ["le", formatNumber(bound)])
          } ${count}`,
        );
      }
      lines.push(
        `${family.name}_bucket${formatLabels(series.labels, ["le", "+Inf"])} ${series.count ?? 0}`,
      );
      lines.push(
        `${family.name}_sum${formatLabels(series.labels)} ${formatNumber(series.sum ?? 0)}`,
      );
      lines.push(`${family.name}_count${formatLabels(series.labels)} ${series.count ?? 0}`);
    }
    blocks.push(lines.join("\n") + "\n");
  }
  return blocks.join("\n");
}
