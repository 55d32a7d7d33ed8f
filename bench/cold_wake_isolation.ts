/**
 * Cold wake per isolation level: what `namespace` (unshare) and `sandbox` (bwrap) add to a wake
 * next to `process`. One `ten serve` (as root: namespaces need it) runs each app once per level;
 * per run the instance is stopped, then ONE raw GET with `Host: bench.S.localhost` is timed until
 * its status line (tenement holds the request while it starts the app). Levels alternate run by
 * run, so background load hits them alike. Prints median and p95 per app and level, and the
 * median added over `process`. Never fails on timing.
 *
 *     deno run -A bench/cold_wake_isolation.ts [--runs 10] [--warmup 1] [--apps python,go]
 *                                             [--json FILE] [--max-seconds 120]
 * @module
 */
import { type Daemon, print, progress, rawGet, sleep, tempDir } from "../testkit/mod.ts";
import {
  APPS,
  benchDaemon,
  benchEnv,
  buildGo,
  fmt,
  now,
  parseFlags,
  problemNotes,
  report,
  runMain,
  type Stats,
  stats,
  table,
} from "./lib.ts";

const LEVELS = ["process", "namespace", "sandbox"] as const;
type Level = typeof LEVELS[number];
const INSTANCE_ID = "bench";
const WAKE_TIMEOUT_MS = 20_000;

interface App {
  readonly name: string;
  readonly argv: readonly string[];
}

/** One app at one level. */
export interface LevelResult {
  readonly app: string;
  readonly level: Level;
  readonly wake: Stats;
  readonly errors: number;
  readonly samples: number[];
}

/** Whole result. */
export interface IsolationWakeResult {
  readonly date: string;
  readonly runs: number;
  readonly rows: LevelResult[];
  readonly notes: string[];
}

/** 95th percentile by nearest rank. */
function p95(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const sorted = xs.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
}

const serviceName = (app: App, level: Level): string => `${app.name}-${level}`;

function serviceToml(app: App, level: Level): string {
  const [program, ...args] = app.argv;
  return `[service.${serviceName(app, level)}]\ncommand = ${JSON.stringify(program)}\nargs = ${
    JSON.stringify(args)
  }\nisolation = "${level}"\nidle_timeout = 0\nsocket = "{data_dir}/run/{name}.{id}/app.sock"\n`;
}

/** Stops the instance, then times one request through tenement until its status line. */
async function wakeOnce(d: Daemon, service: string): Promise<{ ms: number; status: number }> {
  await d.stopInstance(service, INSTANCE_ID);
  await sleep(50);
  const t0 = now();
  const r = await rawGet(d.port, `${INSTANCE_ID}.${service}.localhost`, "/", WAKE_TIMEOUT_MS);
  return { ms: now() - t0, status: r.status };
}

/** Runs the benchmark, prints its table, returns the result. */
export async function main(args: readonly string[]): Promise<IsolationWakeResult> {
  const flags = parseFlags(args, {
    runs: "number",
    warmup: "number",
    apps: "string",
    json: "string",
    "max-seconds": "number",
  });
  const runs = Math.max(1, Math.min(200, Math.floor((flags["runs"] as number | undefined) ?? 10)));
  const warmup = Math.max(0, Math.floor((flags["warmup"] as number | undefined) ?? 1));
  const maxMs = ((flags["max-seconds"] as number | undefined) ?? 120) * 1000;
  const wanted = ((flags["apps"] as string | undefined) ?? "python,go").split(",");
  const notes: string[] = [];
  if (Deno.uid() !== 0) throw new Error('run as root: isolation = "namespace" needs it');

  await using tmp = await tempDir("ten-bench-iso-");
  // The sandbox runs as an unprivileged uid, which must reach its data dir.
  await Deno.chmod(tmp.path, 0o755);
  const all: App[] = [
    { name: "python", argv: ["/usr/bin/python3", `${APPS}/hello.py`] },
    { name: "node", argv: ["/usr/bin/node", `${APPS}/hello.mjs`] },
  ];
  if (wanted.includes("go")) all.push({ name: "go", argv: [await buildGo(tmp.path)] });
  const apps = all.filter((a) => wanted.includes(a.name));
  const services = apps.flatMap((app) => LEVELS.map((level) => serviceToml(app, level)));
  await using d = await benchDaemon(
    tmp.path,
    benchEnv(),
    `[settings]\ndata_dir = "./data"\nwake_rate_per_client = "0"\n\n${services.join("\n")}`,
  );
  await d.start();
  for (const dir of [d.dataDir, `${d.dataDir}/run`]) {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.chmod(dir, 0o711);
  }
  progress(`ten serve on 127.0.0.1:${d.port}`);
  const samples = new Map<string, { ms: number[]; errors: number }>();
  for (const app of apps) {
    for (const level of LEVELS) {
      await d.spawn(serviceName(app, level), INSTANCE_ID);
      samples.set(serviceName(app, level), { ms: [], errors: 0 });
    }
  }
  const startedAt = now();
  for (let i = 0; i < warmup + runs; i++) {
    if (now() - startedAt > maxMs) {
      notes.push(`stopped after ${Math.max(0, i - warmup)} runs: --max-seconds reached`);
      break;
    }
    const order = i % 2 === 0 ? LEVELS : LEVELS.toReversed();
    for (const app of apps) {
      const line: string[] = [];
      for (const level of order) {
        const s = samples.get(serviceName(app, level))!;
        try {
          const r = await wakeOnce(d, serviceName(app, level));
          if (i >= warmup) r.status === 200 ? s.ms.push(r.ms) : s.errors++;
          line.push(`${level} ${r.status === 200 ? r.ms.toFixed(1) : `status ${r.status}`}`);
        } catch (err: unknown) {
          if (i >= warmup) s.errors++;
          line.push(`${level} ERROR ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      progress(`${i < warmup ? "warm-up" : `run ${i - warmup + 1}/${runs}`} ${app.name}: ${line}`);
    }
  }
  const rows = apps.flatMap((app) =>
    LEVELS.map((level): LevelResult => {
      const s = samples.get(serviceName(app, level))!;
      return { app: app.name, level, wake: stats(s.ms), errors: s.errors, samples: s.ms };
    })
  );
  notes.push(...problemNotes(d));
  const result = { date: new Date().toISOString(), runs, rows, notes };
  return await report(result, printResult, flags["json"] as string | undefined);
}

/** Prints the table of a result. */
export function printResult(r: IsolationWakeResult): void {
  print(`## Cold wake per isolation level (${r.date})`);
  print();
  print(`${r.runs} runs per row; asleep → first response through tenement, one GET; ms.`);
  print();
  const baseline = new Map(
    r.rows.filter((x) => x.level === "process").map((x) => [x.app, x.wake.p50]),
  );
  print(table(
    ["app", "isolation", "n", "median", "p95", "min", "max", "added median", "errors"],
    r.rows.map((x) => {
      const added = x.wake.p50 - (baseline.get(x.app) ?? NaN);
      return [
        x.app,
        x.level,
        String(x.wake.n),
        fmt(x.wake.p50),
        fmt(p95(x.samples)),
        fmt(x.wake.min),
        fmt(x.wake.max),
        x.level === "process" ? "-" : `${added >= 0 ? "+" : ""}${fmt(added)}`,
        String(x.errors),
      ];
    }),
  ));
  for (const note of r.notes) print(`\nNote: ${note}`);
  print();
}

if (import.meta.main) await runMain(() => main(Deno.args));
