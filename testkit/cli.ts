/**
 * Runs the `ten` CLI of this checkout (`deno run … main.ts`) and collects its output and exit
 * code; and reads the token that `ten token-gen` prints.
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { DENO, ROOT, tenArgs } from "./paths.ts";

/** Result of a CLI run. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Asserts a successful run (exit 0, else the output in the message) and returns it. */
export function succeeded(res: CliResult, what: string): CliResult {
  equal(res.code, 0, `${what} failed (exit ${res.code}):\n${res.stderr}${res.stdout}`);
  return res;
}

/** Options of {@linkcode runTen}. */
export interface RunTenOptions {
  /** @default {ROOT} */
  readonly cwd?: string;
  /** Added to this process's environment (with NO_COLOR=1), or the whole one with `clearEnv`. */
  readonly env?: Record<string, string>;
  readonly clearEnv?: boolean;
  /** Program to run with `args` instead of `deno run … main.ts` (e.g. bin/ten). */
  readonly program?: string;
  /** Kills the run when it aborts. */
  readonly signal?: AbortSignal;
}

/** Runs `ten args…`; never throws on a non-zero exit. */
export async function runTen(
  args: readonly string[],
  options: RunTenOptions = {},
): Promise<CliResult> {
  const program = options.program ?? DENO;
  const out = await new Deno.Command(program, {
    args: options.program === undefined ? [...tenArgs(), ...args] : [...args],
    cwd: options.cwd ?? ROOT,
    env: options.clearEnv ? { ...options.env } : { NO_COLOR: "1", ...options.env },
    clearEnv: options.clearEnv ?? false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The token a `ten token-gen` printed: the first line that starts with two spaces. */
export function tokenOf(stdout: string): string {
  const line = stdout.split("\n").find((l) => l.startsWith("  "));
  ok(line !== undefined, `no token line in:\n${stdout}`);
  return line.trim();
}
