/**
 * Renders metric snapshots in the Prometheus text exposition format. Pure: no I/O.
 * @module
 */
import type { FamilySnapshot, Labels } from "./metric_families.ts";

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** `a="x",b="y"` with the names sorted: the inside of a label set's braces. */
function labelPairs(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let text = "";
  for (const name of names) {
    text += `${text === "" ? "" : ","}${name}="${escapeLabel(labels[name]!)}"`;
  }
  return text;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  return String(Number(n.toFixed(6)));
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
  // Built by concatenation, label sets formatted once per series: a scrape of 1000 instances
  // is ~10 MB of text, rendered while requests wait.
  let text = "";
  let isFirst = true;
  for (const family of families) {
    const name = family.name;
    text += `${isFirst ? "" : "\n"}# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`;
    isFirst = false;
    if (family.type !== "histogram") {
      for (const series of family.series) {
        const pairs = labelPairs(series.labels);
        text += `${name}${pairs === "" ? "" : `{${pairs}}`} ${formatNumber(series.value ?? 0)}\n`;
      }
      continue;
    }
    const bucketName = `${name}_bucket{`;
    for (const series of family.series) {
      const pairs = labelPairs(series.labels);
      const open = pairs === "" ? bucketName : `${bucketName}${pairs},`;
      for (const [bound, count] of series.buckets ?? []) {
        text += `${open}le="${formatNumber(bound)}"} ${count}\n`;
      }
      const braces = pairs === "" ? "" : `{${pairs}}`;
      const count = series.count ?? 0;
      text += `${open}le="+Inf"} ${count}\n${name}_sum${braces} ${
        formatNumber(series.sum ?? 0)
      }\n${name}_count${braces} ${count}\n`;
    }
  }
  return text;
}
