/**
 * Test helpers: temp dirs, a real `ten serve` started through `main.ts`, CLI runs, raw HTTP, and
 * process-group bookkeeping that proves nothing a test started is left behind.
 * @module
 */
import { equal } from "node:assert/strict";
import { listGroupMembers, readProcStat } from "../../src/runtime/proc_stat.ts";
import { rawRequest, type RawRequestOptions, type RawResponse } from "./raw_http.ts";

export { rawRequest, type RawRequestOptions, type RawResponse } from "./raw_http.ts";

/** Repository root. */
export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** Fixture apps. */
export const FIXTURES = `${ROOT}/tests/fixtures`;
/** Example apps. */
export const EXAMPLES = `${ROOT}/examples`;
/** Python without the pyenv shim where available (faster starts). */
export const PYTHON = (() => {
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
})();

const DENO = Deno.execPath();

/** A temp dir removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "ten-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Result of a CLI run. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ten args…` from `cwd` with extra env; never throws on a non-zero exit. */
export async function runTen(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", "--config", `${ROOT}/deno.json`, `${ROOT}/main.ts`, ...args],
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err: unknown) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
  throw new Error(
    `Timed out waiting for ${options.what ?? "condition"}${lastError ? `: ${lastError}` : ""}`,
  );
}

/** A response read fully. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** An instance row of `GET /api/instances?all=true`. */
export interface InstanceRow {
  id: string;
  status: string;
  health: string;
  pid: number | null;
  port: number | null;
  weight: number;
  restarts: number;
  reason: string | null;
}

/** Options for startDaemon. */
export interface DaemonOptions {
  /** Text of tenement.toml (written into `dir`). */
  readonly config: string;
  readonly dir: string;
  /** Generate an admin token first. @default {true} */
  readonly withToken?: boolean;
  readonly env?: Record<string, string>;
  readonly domain?: string;
}

/** A running `ten serve` in its own process group. */
export class Daemon implements AsyncDisposable {
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  port = 0;
  token = "";
  #child: Deno.ChildProcess | undefined;
  #stderr = "";
  #stderrDone: Promise<void> = Promise.resolve();
  readonly #env: Record<string, string>;
  readonly #domain: string;
  /** Every process group this daemon or its instances ever had. */
  readonly groups = new Set<number>();

  constructor(options: DaemonOptions) {
    this.dir = options.dir;
    this.dataDir = `${options.dir}/data`;
    this.configPath = `${options.dir}/tenement.toml`;
    this.#env = options.env ?? {};
    this.#domain = options.domain ?? "localhost";
  }

  /** Base URL of the daemon. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The daemon's pid. */
  get pid(): number {
    return this.#child!.pid;
  }

  /** Everything the daemon wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Starts `ten serve` and waits until it listens. */
  async start(): Promise<void> {
    this.#stderr = "";
    const child = new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        `${ROOT}/deno.json`,
        `${ROOT}/main.ts`,
        "serve",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--domain",
        this.#domain,
        "--config",
        this.configPath,
      ],
      cwd: this.dir,
      env: { NO_COLOR: "1", TENEMENT_LOG: "debug", ...this.#env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.#child = child;
    this.groups.add(child.pid);
    const listening = Promise.withResolvers<number>();
    this.#stderrDone = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.#stderr += dec.decode(chunk, { stream: true });
        const m = /tenement listening on http:\/\/[^:]+:(\d+)/.exec(this.#stderr);
        if (m) listening.resolve(Number(m[1]));
      }
      listening.reject(new Error(`ten serve exited before listening:\n${this.#stderr}`));
    })();
    this.port = await listening.promise;
  }

  /** Runs a CLI verb against this daemon with its token. */
  ten(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runTen(["--server", this.url, "--config", this.configPath, ...args], {
      cwd: this.dir,
      env: { ...this.#env, ...env },
    });
  }

  /** Makes the admin token. */
  async makeToken(): Promise<string> {
    const res = await runTen(["token-gen", "--config", this.configPath], { cwd: this.dir });
    equal(res.code, 0, res.stderr);
    this.token = res.stdout.split("\n").find((l) => l.startsWith("  "))!.trim();
    return this.token;
  }

  /** An authenticated API call (Host `localhost`, so it reaches the API whatever the domain). */
  async api(method: string, path: string, body?: unknown): Promise<HttpResult> {
    const res = await rawRequest(this.port, "localhost", path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, headers: res.headers, body: res.body };
  }

  /** Every instance, including asleep and failed ones; records their process groups. */
  async instances(): Promise<InstanceRow[]> {
    const res = await this.api("GET", "/api/instances?all=true");
    equal(res.status, 200, res.body);
    const rows = JSON.parse(res.body) as InstanceRow[];
    for (const r of rows) if (r.pid !== null) this.groups.add(r.pid);
    return rows;
  }

  /** One instance row, or undefined. */
  async instance(key: string): Promise<InstanceRow | undefined> {
    return (await this.instances()).find((r) => r.id === key);
  }

  /** Waits until instance `key` is running; returns its row. */
  running(key: string): Promise<InstanceRow> {
    return waitFor(async () => {
      const r = await this.instance(key);
      return r?.status === "running" ? r : undefined;
    });
  }

  /**
   * A proxied request with the given Host (through a raw client: `fetch()` ignores a Host
   * header). Records the pid an app reports, so its group is checked at dispose.
   */
  async request(host: string, path = "/", options: RawRequestOptions = {}): Promise<RawResponse> {
    const res = await rawRequest(this.port, host, path, options);
    const pid = /"pid":\s*(\d+)/.exec(res.body);
    if (pid) this.groups.add(Number(pid[1]));
    return res;
  }

  /** SIGKILLs the daemon alone (its instances live on as orphans). */
  async kill9(): Promise<void> {
    Deno.kill(this.#child!.pid, "SIGKILL");
    await this.#child!.status;
    await this.#stderrDone.catch(() => {});
  }

  /** Sends `signal` to the daemon (not its instances). */
  signal(signal: Deno.Signal): void {
    Deno.kill(this.#child!.pid, signal);
  }

  /** Waits for the daemon to exit; returns the exit code. */
  async exited(): Promise<number> {
    const status = await this.#child!.status;
    await this.#stderrDone.catch(() => {});
    return status.code;
  }

  /** Sends SIGTERM and waits for a clean exit; returns the exit code. */
  async terminate(): Promise<number> {
    Deno.kill(this.#child!.pid, "SIGTERM");
    const status = await this.#child!.status;
    await this.#stderrDone.catch(() => {});
    return status.code;
  }

  /** Stops the daemon if running, kills any group left, and asserts none is left. */
  async [Symbol.asyncDispose](): Promise<void> {
    const child = this.#child;
    if (child) {
      try {
        Deno.kill(child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          Deno.kill(child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, 15_000);
      await child.status;
      clearTimeout(timer);
      await this.#stderrDone.catch(() => {});
    }
    const left = await leftoverGroups(this.groups);
    for (const pgid of left) killGroup(pgid);
    equal(left.length, 0, `process groups left behind: ${left.join(", ")}`);
  }
}

/** Starts a daemon for a test; dispose it with `await using`. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  await Deno.writeTextFile(`${options.dir}/tenement.toml`, options.config);
  const daemon = new Daemon(options);
  if (options.withToken ?? true) await daemon.makeToken();
  await daemon.start();
  return daemon;
}

/** Groups (of `pgids`) that still have a live member. */
export async function leftoverGroups(pgids: Iterable<number>): Promise<number[]> {
  const left: number[] = [];
  for (const pgid of pgids) {
    if ((await listGroupMembers(pgid)).length > 0) left.push(pgid);
  }
  return left;
}

/** True when `pid` exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** SIGKILLs a process group, ignoring a missing one. */
export function killGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * A `[settings]` block with fast health checks, small backoff and a private port range;
 * `overrides` replace or add keys (values are written as TOML literals).
 */
export function settingsBlock(overrides: Record<string, string | number> = {}): string {
  const start = 20000 + Math.floor(Math.random() * 400) * 100;
  const values: Record<string, string | number> = {
    data_dir: '"./data"',
    health_check_interval: 1,
    backoff_base_ms: 100,
    backoff_max_ms: 1000,
    port_range_start: start,
    port_range_end: start + 99,
    ...overrides,
  };
  return `[settings]\n${Object.entries(values).map(([k, v]) => `${k} = ${v}`).join("\n")}\n`;
}
