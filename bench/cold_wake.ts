/**
 * Cold wake: how much latency tenement adds to an app's own cold start.
 *
 * For a Python, a Node and a Go hello server it measures, interleaved:
 * - bare: exec → first HTTP 200, polling every 1 ms with a raw TCP GET (the method of
 *   shared/bench/coldstart.mjs); the process group is SIGKILLed after each run and its port must
 *   refuse again before the next;
 * - tenement: one `ten serve` (port 0, the three apps as services, idle_timeout 0, no
 *   `[instances]`); per run the instance is stopped with `DELETE /api/instances/S:ID`, its port must
 *   refuse, then ONE raw GET with `Host: ID.S.localhost` is timed until its status line (tenement
 *   holds the request while it starts the app).
 *
 * Prints percentiles per row, tenement's added latency (tenement p50/p99 − bare p50/p99) against
 * the targets (≤ 5 ms p50, ≤ 15 ms p99), and the wake time tenement reports in /metrics.
 * Never fails on timing; exits non-zero only if the benchmark itself cannot run.
 *
 *     deno run -A bench/cold_wake.ts [--runs 20] [--warmup 2] [--apps python,node,go]
 *                                   [--json FILE] [--max-seconds 240]
 * @module
 */
import {
  checkpoint,
  type Daemon,
  freePort,
  installSignalCleanup,
  type InstanceJson,
  portRefuses,
  print,
  progress,
  rawGet,
  sleep,
  startGroup,
  tempDir,
  waitPortRefuses,
} from "../testkit/mod.ts";
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

/** Added-latency targets, ms. */
export const TARGET_ADDED_P50_MS = 5;
/** Added-latency targets, ms. */
export const TARGET_ADDED_P99_MS = 15;

const INSTANCE_ID = "bench";
const POLL_MS = 1;
const START_TIMEOUT_MS = 15_000;

interface App {
  readonly name: string;
  /** tenement service name. */
  readonly service: string;
  readonly argv: readonly string[];
}

/** One app's results. */
export interface AppResult {
  readonly app: string;
  readonly command: string;
  readonly bare: Stats;
  readonly tenement: Stats;
  /** Second request right after a wake (proxy path, app warm). */
  readonly warm: Stats;
  readonly bareErrors: number;
  readonly tenementErrors: number;
  readonly addedP50: number;
  readonly addedP99: number;
  /** From /metrics tenement_wake_duration_ms over the measured wakes: mean and bucket bound. */
  readonly selfReported:
    | { count: number; meanMs: number; p50BucketMs: number | undefined }
    | undefined;
  readonly samples: { bare: number[]; tenement: number[]; warm: number[] };
}

/** Whole result. */
export interface ColdWakeResult {
  readonly date: string;
  readonly runs: number;
  readonly warmup: number;
  readonly loadavgBefore: string;
  readonly loadavgAfter: string;
  readonly truncated: boolean;
  readonly apps: AppResult[];
  readonly notes: string[];
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** exec → first 200, one run. Throws if the app does not answer in time. */
async function bareRun(app: App, env: Record<string, string>): Promise<number> {
  await checkpoint();
  const port = freePort();
  if (!(await portRefuses(port))) throw new Error(`port ${port} busy before start`);
  const t0 = now();
  const child = startGroup(app.argv, { env: { ...env, PORT: String(port) }, clearEnv: true });
  let readyMs: number | undefined;
  try {
    while (true) {
      const r = await rawGet(port, `127.0.0.1:${port}`, "/", 5_000);
      if (r.status === 200) {
        readyMs = now() - t0;
        break;
      }
      if (child.hasExited()) throw new Error(`${app.name} exited before answering`);
      if (now() - t0 > START_TIMEOUT_MS) {
        throw new Error(`${app.name} no 200 within ${START_TIMEOUT_MS} ms`);
      }
      await sleep(POLL_MS);
    }
  } finally {
    await child.stop();
    if (!(await waitPortRefuses(port))) progress(`warning: port ${port} still accepts after kill`);
  }
  return readyMs;
}

/** The row of `service:bench`; throws when there is none. */
async function instanceRow(d: Daemon, service: string): Promise<InstanceJson> {
  const row = await d.instance(`${service}:${INSTANCE_ID}`);
  if (row === undefined) throw new Error(`${service}:${INSTANCE_ID} is not listed`);
  return row;
}

/** Stop the instance, then time one request through tenement until its status line. */
async function tenementRun(
  d: Daemon,
  app: App,
): Promise<{ ms: number; status: number; warmMs: number | undefined }> {
  const before = await instanceRow(d, app.service);
  await d.stopInstance(app.service, INSTANCE_ID);
  if (before.port !== null && !(await waitPortRefuses(before.port))) {
    throw new Error(`${app.service}:${INSTANCE_ID} port ${before.port} still accepts after DELETE`);
  }
  const after = await instanceRow(d, app.service);
  if (after.pid !== null) {
    throw new Error(`${app.service}:${INSTANCE_ID} still has pid ${after.pid}`);
  }
  // Let the stop's after-effects (KV write, pool close) finish, as a real idle gap would.
  await sleep(50);
  const host = `${INSTANCE_ID}.${app.service}.localhost`;
  await checkpoint();
  const t0 = now();
  const r = await rawGet(d.port, host, "/", START_TIMEOUT_MS + 5_000);
  const ms = now() - t0;
  let warmMs: number | undefined;
  if (r.status === 200) {
    const t1 = now();
    const w = await rawGet(d.port, host, "/", 5_000);
    if (w.status === 200) warmMs = now() - t1;
  }
  return { ms, status: r.status, warmMs };
}

/** tenement_wake_duration_{ms,seconds} per process label, in ms: sum, count and buckets. */
interface WakeHist {
  sum: number;
  count: number;
  buckets: Map<number, number>;
}

function parseWakeHistograms(text: string): Map<string, WakeHist> {
  const out = new Map<string, WakeHist>();
  const get = (process: string): WakeHist => {
    let h = out.get(process);
    if (!h) {
      h = { sum: 0, count: 0, buckets: new Map() };
      out.set(process, h);
    }
    return h;
  };
  for (const line of text.split("\n")) {
    const m = /^tenement_wake_duration_(ms|seconds)_(bucket|sum|count)\{([^}]*)\} ([\d.eE+-]+)$/
      .exec(line);
    if (!m) continue;
    // The histogram was renamed from _ms to _seconds (Prometheus base units); accept both.
    const scale = m[1] === "seconds" ? 1000 : 1;
    const kind = m[2];
    const labels = Object.fromEntries(
      [...m[3]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!] as const),
    );
    const process = labels["process"];
    if (process === undefined) continue;
    const h = get(process);
    const value = Number(m[4]);
    if (kind === "sum") h.sum += value * scale;
    else if (kind === "count") h.count += value;
    else if (labels["le"] !== undefined && labels["le"] !== "+Inf") {
      const le = Math.round(Number(labels["le"]) * scale * 1000) / 1000;
      h.buckets.set(le, (h.buckets.get(le) ?? 0) + value);
    }
  }
  return out;
}

function diffWake(
  before: WakeHist | undefined,
  after: WakeHist | undefined,
): AppResult["selfReported"] {
  if (!after) return undefined;
  const count = after.count - (before?.count ?? 0);
  if (count <= 0) return undefined;
  const sum = after.sum - (before?.sum ?? 0);
  let p50BucketMs: number | undefined;
  for (const le of [...after.buckets.keys()].sort((a, b) => a - b)) {
    const c = after.buckets.get(le)! - (before?.buckets.get(le) ?? 0);
    if (c >= count / 2) {
      p50BucketMs = le;
      break;
    }
  }
  return { count, meanMs: sum / count, p50BucketMs };
}

function serviceToml(app: App): string {
  for (const part of app.argv) {
    if (/\s|"|'/.test(part)) throw new Error(`path with spaces or quotes not supported: ${part}`);
  }
  return `[service.${app.service}]\ncommand = "${app.argv.join(" ")}"\nidle_timeout = 0\n`;
}

/** Runs the benchmark, prints its tables, returns the result. */
export async function main(args: readonly string[]): Promise<ColdWakeResult> {
  const flags = parseFlags(args, {
    runs: "number",
    warmup: "number",
    apps: "string",
    json: "string",
    "max-seconds": "number",
  });
  const runs = Math.max(1, Math.floor((flags["runs"] as number | undefined) ?? 20));
  const warmup = Math.max(0, Math.floor((flags["warmup"] as number | undefined) ?? 2));
  const maxMs = ((flags["max-seconds"] as number | undefined) ?? 240) * 1000;
  const wanted = ((flags["apps"] as string | undefined) ?? "python,node,go").split(",");
  installSignalCleanup();
  const startedAt = now();
  const loadavgBefore = loadavg();
  const notes: string[] = [];

  await using tmp = await tempDir("ten-bench-wake-");
  const env = benchEnv();
  const all: App[] = [
    { name: "python", service: "py", argv: ["/usr/bin/python3", `${APPS}/hello.py`] },
    { name: "node", service: "node", argv: ["/usr/bin/node", `${APPS}/hello.mjs`] },
  ];
  if (wanted.includes("go")) {
    progress("building bench/apps/hello.go …");
    all.push({ name: "go", service: "go", argv: [await buildGo(tmp.path)] });
  }
  const apps = all.filter((a) => wanted.includes(a.name));
  if (apps.length === 0) {
    throw new Error(`--apps: none of ${wanted.join(",")} is python, node or go`);
  }

  await using d = await benchDaemon(
    tmp.path,
    env,
    `[settings]\ndata_dir = "./data"\nwake_rate_per_client = "0"\n\n${
      apps.map(serviceToml).join("\n")
    }`,
  );
  progress("starting ten serve …");
  await d.start();
  progress(`ten serve on 127.0.0.1:${d.port} (pid ${d.pid})`);
  for (const app of apps) await d.spawn(app.service, INSTANCE_ID);

  const emptySamples = (): {
    bare: number[];
    tenement: number[];
    warm: number[];
    bareErrors: number;
    tenementErrors: number;
  } => ({ bare: [], tenement: [], warm: [], bareErrors: 0, tenementErrors: 0 });
  const samples = new Map(apps.map((a) => [a.name, emptySamples()] as const));
  let wakeBefore = new Map<string, WakeHist>();
  let truncated = false;
  for (let i = 0; i < warmup + runs; i++) {
    if (i === warmup) wakeBefore = parseWakeHistograms(await d.metrics());
    if (now() - startedAt > maxMs) {
      truncated = true;
      notes.push(
        `stopped after ${i - warmup} measured rounds: --max-seconds ${maxMs / 1000} reached`,
      );
      break;
    }
    const isWarmup = i < warmup;
    for (const app of apps) {
      const s = samples.get(app.name)!;
      // Alternate which side goes first, so slow drift (other load on the box) hits both alike.
      const order = i % 2 === 0 ? ["bare", "tenement"] as const : ["tenement", "bare"] as const;
      const line: string[] = [];
      for (const side of order) {
        if (side === "bare") {
          try {
            const ms = await bareRun(app, env);
            if (!isWarmup) s.bare.push(ms);
            line.push(`bare ${ms.toFixed(1)}`);
          } catch (err: unknown) {
            if (!isWarmup) s.bareErrors++;
            line.push(`bare ERROR ${(err as Error).message}`);
          }
        } else {
          try {
            const r = await tenementRun(d, app);
            if (r.status === 200) {
              if (!isWarmup) {
                s.tenement.push(r.ms);
                if (r.warmMs !== undefined) s.warm.push(r.warmMs);
              }
              line.push(`tenement ${r.ms.toFixed(1)}`);
            } else {
              if (!isWarmup) s.tenementErrors++;
              line.push(`tenement status ${r.status} after ${r.ms.toFixed(1)} ms`);
            }
          } catch (err: unknown) {
            if (!isWarmup) s.tenementErrors++;
            line.push(`tenement ERROR ${(err as Error).message}`);
          }
        }
      }
      progress(
        `${isWarmup ? "warm-up" : `run ${i - warmup + 1}/${runs}`} ${app.name}: ${line.join(", ")}`,
      );
    }
  }
  const wakeAfter = parseWakeHistograms(await d.metrics());

  const results: AppResult[] = apps.map((app) => {
    const s = samples.get(app.name)!;
    const bare = stats(s.bare);
    const tenement = stats(s.tenement);
    return {
      app: app.name,
      command: app.argv.join(" "),
      bare,
      tenement,
      warm: stats(s.warm),
      bareErrors: s.bareErrors,
      tenementErrors: s.tenementErrors,
      addedP50: tenement.p50 - bare.p50,
      addedP99: tenement.p99 - bare.p99,
      selfReported: diffWake(wakeBefore.get(app.service), wakeAfter.get(app.service)),
      samples: { bare: s.bare, tenement: s.tenement, warm: s.warm },
    };
  });
  notes.push(...problemNotes(d));
  if (Deno.env.get("NODE_EXTRA_CA_CERTS") !== undefined) {
    notes.push(
      "NODE_EXTRA_CA_CERTS was removed from the env of both sides (bare and ten serve): with it " +
        "Node parses the whole CA bundle at every start (~+90 ms, perf-baseline.md §1), which " +
        "would drown the milliseconds measured here.",
    );
  }
  const result: ColdWakeResult = {
    date: new Date().toISOString(),
    runs,
    warmup,
    loadavgBefore,
    loadavgAfter: loadavg(),
    truncated,
    apps: results,
    notes,
  };
  return await report(result, printColdWake, flags["json"] as string | undefined);
}

/** Prints the tables of a result. */
export function printColdWake(r: ColdWakeResult): void {
  print(`## Cold wake (${r.date})`);
  print();
  print(
    `${r.runs} measured runs per row after ${r.warmup} warm-ups, bare and tenement interleaved; ` +
      `ms; ${navigator.hardwareConcurrency} cores; loadavg ${r.loadavgBefore} → ${r.loadavgAfter}.`,
  );
  print();
  const rows: string[][] = [];
  for (const a of r.apps) {
    const row = (mode: string, s: Stats, errors: number, warm?: Stats): string[] => [
      a.app,
      mode,
      String(s.n),
      fmt(s.p50),
      fmt(s.p90),
      fmt(s.p99),
      fmt(s.min),
      fmt(s.max),
      warm ? fmt(warm.p50, 2) : "-",
      String(errors),
    ];
    rows.push(row("bare (exec → 200, 1 ms poll)", a.bare, a.bareErrors));
    rows.push(row("tenement (asleep → 200, 1 GET)", a.tenement, a.tenementErrors, a.warm));
  }
  print(table(["app", "mode", "n", "p50", "p90", "p99", "min", "max", "warm p50", "errors"], rows));
  print();
  print(
    `Added by tenement (tenement − bare), targets ≤ ${TARGET_ADDED_P50_MS} ms p50, ≤ ${TARGET_ADDED_P99_MS} ms p99:`,
  );
  print();
  const verdict = (x: number, target: number): string =>
    !Number.isFinite(x) ? "-" : x <= target ? "ok" : "OVER";
  print(table(
    [
      "app",
      "bare p50",
      "tenement p50",
      "added p50",
      `≤ ${TARGET_ADDED_P50_MS} ms?`,
      "bare p99",
      "tenement p99",
      "added p99",
      `≤ ${TARGET_ADDED_P99_MS} ms?`,
    ],
    r.apps.map((a) => [
      a.app,
      fmt(a.bare.p50),
      fmt(a.tenement.p50),
      (a.addedP50 >= 0 ? "+" : "") + fmt(a.addedP50),
      verdict(a.addedP50, TARGET_ADDED_P50_MS),
      fmt(a.bare.p99),
      fmt(a.tenement.p99),
      (a.addedP99 >= 0 ? "+" : "") + fmt(a.addedP99),
      verdict(a.addedP99, TARGET_ADDED_P99_MS),
    ]),
  ));
  print();
  print(
    "Wake time tenement reports itself (/metrics tenement_wake_duration_seconds, formerly _ms: " +
      "process start → ready, measured runs only):",
  );
  print();
  print(table(
    [
      "app",
      "wakes",
      "mean ms",
      "p50 bucket (≤ ms)",
      "client-side mean",
      "client − self (outside start→ready)",
    ],
    r.apps.map((a) => [
      a.app,
      String(a.selfReported?.count ?? 0),
      fmt(a.selfReported?.meanMs),
      a.selfReported?.p50BucketMs === undefined ? "-" : String(a.selfReported.p50BucketMs),
      fmt(a.tenement.mean),
      a.selfReported ? fmt(a.tenement.mean - a.selfReported.meanMs) : "-",
    ]),
  ));
  for (const note of r.notes) print(`\nNote: ${note}`);
  if (r.truncated) print("\nNote: results are partial (time limit).");
  print();
}

if (import.meta.main) await runMain(() => main(Deno.args));
