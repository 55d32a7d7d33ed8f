/**
 * Renders metric snapshots in the Prometheus text exposition format. Pure: no I/O.
 * @module
 */
import type { FamilySnapshot, Labels } from "./registry.ts";

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatLabels(labels: Labels, extra?: readonly [string, string]): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k]!)}"`);
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
  for (const f of families) {
    const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
    for (const s of f.series) {
      if (f.type !== "histogram") {
        lines.push(`${f.name}${formatLabels(s.labels)} ${formatNumber(s.value ?? 0)}`);
        continue;
      }
      for (const [bound, count] of s.buckets ?? []) {
        lines.push(
          `${f.name}_bucket${formatLabels(s.labels, ["le", formatNumber(bound)])} ${count}`,
        );
      }
      lines.push(`${f.name}_bucket${formatLabels(s.labels, ["le", "+Inf"])} ${s.count ?? 0}`);
      lines.push(`${f.name}_sum${formatLabels(s.labels)} ${formatNumber(s.sum ?? 0)}`);
      lines.push(`${f.name}_count${formatLabels(s.labels)} ${s.count ?? 0}`);
    }
    blocks.push(lines.join("\n") + "\n");
  }
  return blocks.join("\n");
}
