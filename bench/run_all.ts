/**
 * Runs every benchmark with modest defaults (about 1 minute on a 2-core box, bounded at under 5)
 * and prints their tables, then a one-screen summary against the targets. `make bench` runs this.
 * Exits 0 whatever the numbers are; non-zero only when a benchmark could not run at all.
 *
 *     deno run -A bench/run_all.ts [--runs 30] [--instances 1000] [--json-dir DIR]
 * @module
 */
import * as coldWake from "./cold_wake.ts";
import * as idleRss from "./idle_rss.ts";
import { print, progress } from "../testkit/mod.ts";
import { fmt, parseFlags, runMain } from "./lib.ts";

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    runs: "number",
    instances: "number",
    "json-dir": "string",
  });
  const runs = String(flags["runs"] ?? 30);
  const instances = String(flags["instances"] ?? 1000);
  const jsonDir = flags["json-dir"] as string | undefined;
  if (jsonDir) await Deno.mkdir(jsonDir, { recursive: true });
  const t0 = performance.now();

  print(
    `# tenement benchmarks (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, ` +
      `deno ${Deno.version.deno})`,
  );
  print();
  print(
    "Indicative numbers: timings move with whatever else runs on the machine. Compare rows of " +
      "one run, not runs of different days.",
  );
  print();

  progress("== cold_wake ==");
  const wake = await coldWake.main([
    "--runs",
    runs,
    "--max-seconds",
    "120",
    ...(jsonDir ? ["--json", `${jsonDir}/cold_wake.json`] : []),
  ]);

  progress("== idle_rss ==");
  const rss = await idleRss.main([
    "--instances",
    instances,
    "--services",
    "1000",
    "--cycles",
    "2",
    "--max-seconds",
    "150",
    ...(jsonDir ? ["--json", `${jsonDir}/idle_rss.json`] : []),
  ]);

  print("## Summary");
  print();
  for (const a of wake.apps) {
    const ok = a.addedP50 <= coldWake.TARGET_ADDED_P50_MS &&
      a.addedP99 <= coldWake.TARGET_ADDED_P99_MS;
    print(
      `- cold wake ${a.app}: tenement adds ${fmt(a.addedP50)} ms p50 / ${fmt(a.addedP99)} ms p99 ` +
        `(targets ${coldWake.TARGET_ADDED_P50_MS} / ${coldWake.TARGET_ADDED_P99_MS}) ` +
        (ok ? "ok" : "OVER"),
    );
  }
  for (const r of rss.readings) {
    if (r.scenario.startsWith("reference")) continue;
    print(
      `- idle RSS, ${r.scenario}: ${fmt(r.rssMib)} MiB (target ${idleRss.TARGET_RSS_MIB}) ` +
        (r.rssMib <= idleRss.TARGET_RSS_MIB ? "ok" : "OVER"),
    );
  }
  print();
  print(`(all benchmarks took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

await runMain(main);
