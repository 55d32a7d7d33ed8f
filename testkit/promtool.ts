/**
 * The real `promtool check metrics` (apt `prometheus`, installed by `make setup`) on an exposition.
 * @module
 */
import { equal } from "node:assert/strict";

/** Runs `promtool check metrics` on `text`; it must exit 0 and print nothing (no lint warning). */
export async function assertPromtoolQuiet(text: string): Promise<void> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // Exit 1 is a parse error; exit 3 is lint problems.
  equal(out.code, 0, `promtool check metrics exited ${out.code}:\n${report}`);
  equal(report, "", "promtool printed something");
}
