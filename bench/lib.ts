/**
 * Shared pieces of the benchmarks: output, statistics, a raw HTTP/1.1 client (fetch() cannot set
 * Host), a `ten serve` started from this checkout on 127.0.0.1 port 0, process-group bookkeeping
 * and /proc memory readings. Self-contained on purpose: nothing from src/ or tests/ is imported,
 * so a refactor there cannot break a benchmark run.
 * @module
 */

/** Repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Benchmark apps. */
export const APPS = `${ROOT}/bench/apps`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---- output --------------------------------------------------------------------------------------

function writeAllSync(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/** One line on stdout (results). */
export function print(text = ""): void {
  writeAllSync(Deno.stdout, `${text}\n`);
}

/** One line on stderr (progress). */
export function progress(text: string): void {
  writeAllSync(Deno.stderr, `${text}\n`);
}

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

/** Sleeps `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- raw HTTP ------------------------------------------------------------------------------------

/** Outcome of one raw GET: status 0 means no status line (refused, reset or timed out). */
export interface RawGet {
  readonly status: number;
  readonly connected: boolean;
}

/**
 * One `GET path HTTP/1.1` to 127.0.0.1:port with the given Host and `Connection: close`; resolves
 * as soon as the status line has arrived (the same method as shared/bench/coldstart.mjs).
 */
export async function rawGet(
  port: number,
  host: string,
  path = "/",
  timeoutMs = 5_000,
): Promise<RawGet> {
  let conn: Deno.TcpConn | undefined;
  let connected = false;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (timedOut) return { status: 0, connected: true };
    connected = true;
    conn.setNoDelay(true);
    const head =
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nUser-Agent: tenement-bench\r\n\r\n`;
    await conn.write(encoder.encode(head));
    const buf = new Uint8Array(256);
    let text = "";
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return { status: 0, connected };
      text += decoder.decode(buf.subarray(0, n));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (m) return { status: Number(m[1]), connected };
      if (text.length > 64) return { status: 0, connected };
    }
  } catch {
    return { status: 0, connected };
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Already closed by the timer.
    }
  }
}

/** True when nothing accepts connections on 127.0.0.1:port. */
export async function portRefuses(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch {
    return true;
  }
}

/** Waits until 127.0.0.1:port refuses connections; false after `timeoutMs`. */
export async function waitPortRefuses(port: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (await portRefuses(port)) return true;
    await sleep(5);
  }
  return false;
}

/** A port the kernel just handed out on 127.0.0.1 (free at the time of the call). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

// ---- processes -----------------------------------------------------------------------------------

/** Process groups started by the benchmark; killed by `killAllGroups` (and on SIGINT/SIGTERM). */
const groups = new Set<number>();

/** Remembers a process group so it is killed on cleanup. */
export function trackGroup(pgid: number): void {
  groups.add(pgid);
}

/** Forgets a process group that is known to be gone. */
export function untrackGroup(pgid: number): void {
  groups.delete(pgid);
}

/** SIGKILLs process group `pgid`; false when it had no member. */
export function killGroup(pgid: number, signal: Deno.Signal = "SIGKILL"): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs every tracked process group. */
export function killAllGroups(): void {
  for (const pgid of groups) killGroup(pgid);
  groups.clear();
}

const interruptHooks = new Set<() => Promise<void>>();
/** Temp dirs to remove on an interrupt (after the processes using them are gone). */
const tempDirs = new Set<string>();
let handlersInstalled = false;
let isInterrupted = false;

/** Registers a clean-up to run on SIGINT/SIGTERM; returns its removal. */
export function onInterrupt(hook: () => Promise<void>): () => void {
  interruptHooks.add(hook);
  return () => interruptHooks.delete(hook);
}

/**
 * On SIGINT/SIGTERM: run the registered clean-ups (a daemon is stopped with SIGTERM, so it stops
 * its own instances) for at most 20 s, SIGKILL every tracked group left, then exit 130.
 */
export function installSignalCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = async (): Promise<void> => {
    if (isInterrupted) return;
    isInterrupted = true;
    progress("interrupted: cleaning up …");
    await Promise.race([
      Promise.allSettled([...interruptHooks].map((hook) => hook())),
      sleep(20_000),
    ]);
    killAllGroups();
    for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", () => void onSignal());
  Deno.addSignalListener("SIGTERM", () => void onSignal());
}

/**
 * Parks the caller for good once SIGINT/SIGTERM arrived (the clean-up then exits the process), so
 * no new process is started while or after the clean-up runs. Call before starting anything.
 */
export async function checkpoint(): Promise<void> {
  if (isInterrupted) await new Promise<never>(() => {});
}

/**
 * Runs a benchmark's entry point. An error raised after SIGINT/SIGTERM (a daemon that the clean-up
 * already stopped) is not reported: the clean-up finishes and exits 130.
 */
export async function runMain(fn: () => Promise<unknown>): Promise<void> {
  installSignalCleanup();
  try {
    await fn();
  } catch (err: unknown) {
    if (isInterrupted) await new Promise<never>(() => {});
    throw err;
  }
}

/** True while some process is in group `pgid` (zombies count until reaped). */
export function groupAlive(pgid: number): boolean {
  return killGroup(pgid, "SIGCONT");
}

/** Waits until group `pgid` has no member; false after `timeoutMs`. */
export async function waitGroupGone(pgid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(5);
  }
  return !groupAlive(pgid);
}

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

/** Line gc_preload.ts writes after a forced GC. */
const GC_MARKER = "tenement-bench: gc done";

/** One instance row of `GET /api/instances?all=true`. */
export interface InstanceRow {
  readonly id: string;
  readonly status: string;
  readonly pid: number | null;
  readonly port: number | null;
}

/** Options for {@linkcode TenDaemon.start}. */
export interface DaemonStartOptions {
  /** How long to wait for the listening line. @default {60_000} */
  readonly timeoutMs?: number;
  /** Run with `--expose-gc` and bench/gc_preload.ts, for `forceGc()`. */
  readonly gcHook?: boolean;
  /** `taskset -c` CPU list to pin the daemon to. */
  readonly cpu?: string;
  /** V8 flags (comma-separated) instead of bin/ten's. */
  readonly v8Flags?: string;
}

/** A `ten serve` started from this checkout with `bin/ten`, in its own process group. */
export class TenDaemon implements AsyncDisposable {
  readonly dir: string;
  readonly configPath: string;
  port = 0;
  token = "";
  #child: Deno.ChildProcess | undefined;
  #stderr = "";
  #stderrDone: Promise<void> = Promise.resolve();
  #gcCount = 0;
  /** Warning and error lines of every run of this daemon (the first 50 kept). */
  readonly problems: string[] = [];
  /** How many warning and error lines there were in all. */
  problemCount = 0;
  /** `Deno.memoryUsage()` inside the daemon after the last forceGc(). */
  lastHeap: Deno.MemoryUsage | undefined;
  readonly #env: Record<string, string>;
  #removeHook: (() => void) | undefined;

  constructor(dir: string, env: Record<string, string>) {
    this.dir = dir;
    this.configPath = `${dir}/tenement.toml`;
    this.#env = env;
  }

  /** The daemon's pid (the deno process: bin/ten execs it). */
  get pid(): number {
    return this.#child!.pid;
  }

  /** Everything the daemon wrote to stderr in its current run. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Base URL of the API. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes the config and makes an admin token with `ten token-gen`. */
  async init(config: string): Promise<void> {
    await Deno.writeTextFile(this.configPath, config);
    const res = await new Deno.Command(`${ROOT}/bin/ten`, {
      args: ["token-gen", "--config", this.configPath],
      cwd: this.dir,
      env: this.#env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(res.stdout);
    const token = text.split("\n").find((l) => l.startsWith("  "))?.trim();
    if (!res.success || !token) {
      throw new Error(`ten token-gen failed: ${text}${decoder.decode(res.stderr)}`);
    }
    this.token = token;
  }

  /**
   * Starts `ten serve --port 0 --bind 127.0.0.1` and waits until it listens. With `gcHook` or
   * `v8Flags`, deno is run directly (the command bin/ten runs) with those V8 flags; `gcHook` adds
   * `--expose-gc --preload bench/gc_preload.ts`, so `forceGc()` works. With `cpu`, the daemon is
   * pinned to that CPU (and so are the instances it starts).
   */
  async start(options: DaemonStartOptions = {}): Promise<void> {
    const { timeoutMs = 60_000, gcHook = false, cpu, v8Flags } = options;
    await checkpoint();
    this.#stderr = "";
    const serve = ["serve", "--port", "0", "--bind", "127.0.0.1", "--config", this.configPath];
    const isDirect = gcHook || v8Flags !== undefined;
    const program = isDirect ? Deno.execPath() : `${ROOT}/bin/ten`;
    const flags = [
      ...(gcHook ? ["--expose-gc"] : []),
      ...(v8Flags === undefined ? [] : [v8Flags]),
    ];
    const args = isDirect
      ? [
        "run",
        "-A",
        "--quiet",
        "--config",
        `${ROOT}/deno.json`,
        `--v8-flags=${flags.join(",")}`,
        ...(gcHook ? ["--preload", `${ROOT}/bench/gc_preload.ts`] : []),
        `${ROOT}/main.ts`,
        ...serve,
      ]
      : serve;
    // Pinned with `taskset -c CPU`, which execs: the pid stays the daemon's, and the instances
    // it starts inherit the affinity.
    const argv = cpu === undefined ? [program, ...args] : ["taskset", "-c", cpu, program, ...args];
    const child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      cwd: this.dir,
      env: this.#env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.#child = child;
    trackGroup(child.pid);
    this.#removeHook ??= onInterrupt(async () => {
      await this.stop(15_000);
    });
    const listening = Promise.withResolvers<number>();
    this.#stderrDone = (async () => {
      const dec = new TextDecoder();
      let pending = "";
      for await (const chunk of child.stderr) {
        pending += dec.decode(chunk, { stream: true });
        let nl = pending.indexOf("\n");
        while (nl >= 0) {
          this.#onStderrLine(pending.slice(0, nl), listening);
          pending = pending.slice(nl + 1);
          nl = pending.indexOf("\n");
        }
      }
      if (pending !== "") this.#onStderrLine(pending, listening);
      listening.reject(new Error(`ten serve exited before listening:\n${this.#stderr}`));
    })();
    const timer = setTimeout(
      () => listening.reject(new Error(`ten serve not listening after ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      this.port = await listening.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  #onStderrLine(line: string, listening: PromiseWithResolvers<number>): void {
    const at = line.indexOf(GC_MARKER);
    if (at >= 0) {
      try {
        this.lastHeap = JSON.parse(line.slice(at + GC_MARKER.length)) as Deno.MemoryUsage;
      } catch {
        this.lastHeap = undefined;
      }
      this.#gcCount++;
      return;
    }
    if (/\[(WRN|ERR|FTL)\]/.test(line)) {
      this.problemCount++;
      if (this.problems.length < 50) this.problems.push(line);
    }
    // Keep the head (listening line, start-up errors) and a bounded tail.
    this.#stderr += `${line}\n`;
    if (this.#stderr.length > 256 * 1024) {
      this.#stderr = `${this.#stderr.slice(0, 16 * 1024)}…\n${this.#stderr.slice(-64 * 1024)}`;
    }
    const m = /tenement listening on http:\/\/[^:\s]+:(\d+)/.exec(line);
    if (m) listening.resolve(Number(m[1]));
  }

  /** An authenticated API call with fetch (the Host is 127.0.0.1:port, so it is the API). */
  async api(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<
    { status: number; body: string }
  > {
    await checkpoint();
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  }

  /** `POST /api/instances/spawn`; returns the pid and port. */
  async spawn(service: string, id: string): Promise<{ pid: number | null; port: number | null }> {
    const res = await this.api("POST", "/api/instances/spawn", { process: service, id });
    if (res.status !== 200) throw new Error(`spawn ${service}:${id}: ${res.status} ${res.body}`);
    const body = JSON.parse(res.body) as { pid: number | null; port: number | null };
    return body;
  }

  /** `DELETE /api/instances/S:I` (returns after the process group is gone). */
  async stopInstance(service: string, id: string): Promise<void> {
    const res = await this.api("DELETE", `/api/instances/${service}:${id}`);
    if (res.status !== 204) throw new Error(`stop ${service}:${id}: ${res.status} ${res.body}`);
  }

  /** `GET /api/instances?all=true`. */
  async instances(): Promise<InstanceRow[]> {
    const res = await this.api("GET", "/api/instances?all=true");
    if (res.status !== 200) throw new Error(`list: ${res.status} ${res.body}`);
    const rows = JSON.parse(res.body) as InstanceRow[];
    return rows;
  }

  /** One instance row. */
  async instance(service: string, id: string): Promise<InstanceRow> {
    const res = await this.api("GET", `/api/instances/${service}:${id}`);
    if (res.status !== 200) throw new Error(`get ${service}:${id}: ${res.status} ${res.body}`);
    const row = JSON.parse(res.body) as InstanceRow;
    return row;
  }

  /** Two full GCs in the daemon (needs `start(…, true)`); false when no marker came back. */
  async forceGc(timeoutMs = 10_000): Promise<boolean> {
    const before = this.#gcCount;
    Deno.kill(this.pid, "SIGUSR2");
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      if (this.#gcCount > before) return true;
      await sleep(10);
    }
    return false;
  }

  /** `GET /metrics` text. */
  async metrics(): Promise<string> {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return await res.text();
  }

  /** SIGTERM, wait up to `timeoutMs` for a clean exit, then SIGKILL the group. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    const child = this.#child;
    if (!child) return null;
    this.#child = undefined;
    try {
      Deno.kill(child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => killGroup(child.pid), timeoutMs);
    const status = await child.status;
    clearTimeout(timer);
    await this.#stderrDone.catch(() => {});
    killGroup(child.pid);
    if (await waitGroupGone(child.pid, 5_000)) untrackGroup(child.pid);
    return status.code;
  }

  /**
   * Stops the daemon, then kills the group of any instance it reported running just before that
   * and that is still alive (same pid and start time, so a reused pid is never hit).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const running: { pid: number; start: string }[] = [];
    if (this.#child) {
      try {
        for (const row of await this.instances()) {
          if (row.pid !== null) running.push({ pid: row.pid, start: await startTime(row.pid) });
        }
      } catch {
        // The daemon no longer answers: nothing to learn from it.
      }
    }
    await this.stop();
    this.#removeHook?.();
    this.#removeHook = undefined;
    for (const { pid, start } of running) {
      if (start !== "" && (await startTime(pid)) === start) {
        progress(`warning: instance process group ${pid} outlived ten serve; killing it`);
        killGroup(pid);
      }
    }
  }
}

/** Field 22 of /proc/<pid>/stat (start time in ticks), or "" when the process is gone. */
async function startTime(pid: number): Promise<string> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

/** A temp dir removed on dispose. */
export async function tempDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  tempDirs.add(path);
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await Deno.remove(path, { recursive: true }).catch(() => {});
      tempDirs.delete(path);
    },
  };
}

/** Writes `value` as pretty JSON to `file`. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(file, `${JSON.stringify(value, null, 2)}\n`);
}
