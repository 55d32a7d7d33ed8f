/**
 * What only the benchmarks need: statistics, tables, flags, the benchmark environment, the Go
 * build, /proc memory readings, and a `ten serve` with the benchmark's options. Everything they
 * share with the tests (the daemon helper, raw HTTP, process groups, waiting, temp dirs, output
 * lines) comes from testkit/, which imports from src/ only the API's wire types, the /proc
 * reader and the abortable delay, so a refactor of the product rarely reaches a benchmark.
 * @module
 */
import {
  Daemon,
  type DaemonOptions,
  installSignalCleanup,
  ROOT,
  wasInterrupted,
} from "../testkit/mod.ts";

/** Benchmark apps. */
export const APPS = `${ROOT}/bench/apps`;

const decoder = new TextDecoder();

// ---- output --------------------------------------------------------------------------------------

/** A markdown table with right-aligned numeric columns. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const isNum = header.map((_, i) =>
    rows.length > 0 && rows.every((r) => /^[-+~]?[\d.]+/.test(r[i] ?? "") || r[i] === "-")
  );
  const cell = (text: string, i: number): string =>
    isNum[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => cell(c, i)).join(" | ")} |`;
  const rule = `|${
    widths.map((w, i) => isNum[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2)).join("|")
  }|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** `x` with `digits` decimals, or "-" when undefined/NaN. */
export function fmt(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);
}

// ---- statistics ----------------------------------------------------------------------------------

/** Summary of a sample. */
export interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Nearest-rank percentiles (p99 of fewer than 100 samples is the maximum), median as the mean of
 * the two middle values for an even count.
 */
export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { n, p50: NaN, p90: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN };
  const q = (p: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  const p50 = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return {
    n,
    p50,
    p90: q(0.9),
    p99: q(0.99),
    min: s[0]!,
    max: s[n - 1]!,
    mean: s.reduce((a, b) => a + b, 0) / n,
  };
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  return stats(xs).p50;
}

// ---- arguments -----------------------------------------------------------------------------------

/** Parses `--name value` and `--flag` arguments; unknown names are an error. */
export function parseFlags(
  args: readonly string[],
  spec: Record<string, "number" | "string" | "boolean">,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const name = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--/, "");
    const kind = spec[name];
    if (!arg.startsWith("--") || kind === undefined) {
      throw new Error(
        `unknown argument ${arg}; known: ${Object.keys(spec).map((k) => `--${k}`).join(" ")}`,
      );
    }
    if (kind === "boolean") {
      out[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (kind === "number") {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`--${name} needs a number, got ${value}`);
      out[name] = n;
    } else {
      out[name] = value;
    }
  }
  return out;
}

// ---- time ----------------------------------------------------------------------------------------

/** Milliseconds, sub-millisecond resolution. */
export const now = (): number => performance.now();

/**
 * Runs a benchmark's entry point. An error raised after SIGINT/SIGTERM (a daemon that the clean-up
 * already stopped) is not reported: the clean-up finishes and exits 130.
 */
export async function runMain(fn: () => Promise<unknown>): Promise<void> {
  installSignalCleanup();
  try {
    await fn();
  } catch (err: unknown) {
    if (wasInterrupted()) await new Promise<never>(() => {});
    throw err;
  }
}

// ---- environment ---------------------------------------------------------------------------------

/** `PATH` with the directory of the running deno first, so `bin/ten` uses the same deno. */
export function pathWithDeno(): string {
  const denoDir = Deno.execPath().replace(/\/[^/]+$/, "");
  return `${denoDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
}

/**
 * The environment the benchmark gives to both the bare apps and `ten serve` (whose instances
 * inherit it). NODE_EXTRA_CA_CERTS is removed: when set (as on the baseline machine) Node reads and
 * parses the whole CA bundle at every start, ~+90 ms (perf-baseline.md §1), which would swamp the
 * few milliseconds tenement is measured on. Both sides get the same env, so the comparison is fair
 * either way; removing it keeps the noise down.
 */
export function benchEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env["NODE_EXTRA_CA_CERTS"];
  env["PATH"] = pathWithDeno();
  env["NO_COLOR"] = "1";
  return env;
}

/** Builds bench/apps/hello.go into `dir`; returns the binary's path. */
export async function buildGo(dir: string): Promise<string> {
  const out = `${dir}/hello-go`;
  const res = await new Deno.Command("go", {
    args: ["build", "-o", out, `${APPS}/hello.go`],
    cwd: dir,
    env: { GO111MODULE: "off" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) throw new Error(`go build failed: ${decoder.decode(res.stderr)}`);
  return out;
}

// ---- /proc memory --------------------------------------------------------------------------------

/** Memory of a process tree. */
export interface TreeMemory {
  readonly procs: number;
  /** Sum of VmRSS, KiB. */
  readonly rssKib: number;
  /** Sum of Pss (smaps_rollup), KiB. */
  readonly pssKib: number;
  /** Sum of VmHWM (peak RSS), KiB. */
  readonly hwmKib: number;
  /** Sum of RssAnon (heap, stacks: private), KiB. */
  readonly anonKib: number;
  /** Sum of RssFile (mapped files, mostly the deno binary: shared with other deno processes), KiB. */
  readonly fileKib: number;
  /** Sum of Threads. */
  readonly threads: number;
  readonly pids: readonly number[];
}

function statusField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** Pids of `root` and all its descendants (by ppid in /proc/<pid>/stat). */
export async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      const ppid = Number(fields[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry.name));
      children.set(ppid, list);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** RSS, PSS and peak RSS summed over `root`'s process tree. */
export async function treeMemory(root: number): Promise<TreeMemory> {
  const pids = await processTree(root);
  let rssKib = 0, pssKib = 0, hwmKib = 0, anonKib = 0, fileKib = 0, threads = 0, procs = 0;
  for (const pid of pids) {
    try {
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
      rssKib += statusField(status, "VmRSS");
      hwmKib += statusField(status, "VmHWM");
      anonKib += statusField(status, "RssAnon");
      fileKib += statusField(status, "RssFile");
      threads += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      pssKib += statusField(rollup, "Pss");
      procs++;
    } catch {
      // Gone meanwhile.
    }
  }
  return { procs, rssKib, pssKib, hwmKib, anonKib, fileKib, threads, pids };
}

/** KiB → MiB. */
export const mib = (kib: number): number => kib / 1024;

// ---- ten serve -----------------------------------------------------------------------------------

/**
 * A `ten serve` as the benchmarks run it: through `bin/ten` (the launcher users run) with `env`
 * alone, its stderr bounded, and process groups it leaves reported rather than failed on. The
 * config is written and an admin token made; `start()` it with the benchmark's options.
 */
export async function benchDaemon(
  dir: string,
  env: Record<string, string>,
  config: string,
  options: Partial<DaemonOptions> = {},
): Promise<Daemon> {
  const daemon = new Daemon({
    dir,
    env,
    clearEnv: true,
    launcher: "bin/ten",
    maxStderrBytes: 256 * 1024,
    onLeftover: "warn",
    ...options,
  });
  await daemon.writeConfig(config);
  await daemon.makeToken();
  return daemon;
}

/** A note quoting the first warnings and errors `d` logged (`what` names the run), if any. */
export function problemNotes(d: Daemon, what?: string): string[] {
  if (d.problemCount === 0) return [];
  return [
    `ten serve${
      what === undefined ? "" : ` (${what})`
    } logged ${d.problemCount} warnings/errors, ` +
    `first ones:\n    ${d.problems.slice(0, 5).join("\n    ")}`,
  ];
}

/** Prints a benchmark's result with `printResult`, writes it as JSON to `jsonFile` if given. */
export async function report<T>(
  result: T,
  printResult: (result: T) => void,
  jsonFile: string | undefined,
): Promise<T> {
  printResult(result);
  if (jsonFile) await writeJson(jsonFile, result);
  return result;
}

/** Writes `value` as pretty JSON to `file`. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(file, `${JSON.stringify(value, null, 2)}\n`);
}
