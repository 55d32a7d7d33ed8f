/**
 * The only place in `src/` that writes to the console: results on stdout, diagnostics on stderr.
 * @module
 */

const encoder = new TextEncoder();

function write(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/** Writes to stdout. */
export const out = {
  /** One line. */
  line(text = ""): void {
    write(Deno.stdout, `${text}\n`);
  },
  /** Pretty JSON. */
  json(value: unknown): void {
    write(Deno.stdout, `${JSON.stringify(value, null, 2)}\n`);
  },
};

/** Writes to stderr. */
export const err = {
  /** One line; dropped when stderr is closed, as there is nowhere left to say anything. */
  line(text: string): void {
    try {
      write(Deno.stderr, `${text}\n`);
    } catch (error: unknown) {
      if (!isBrokenPipe(error)) throw error;
    }
  },
};

/**
 * True when `error` is a write to a pipe whose reader has gone, as when `ten logs | head -1` has
 * its line: the command then ends quietly, as Unix tools do. Causes are not searched, so a broken
 * connection to the server is still reported.
 */
export function isBrokenPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe;
}

/**
 * Runs `work` while showing `label... N s` on stderr, redrawn in place every second, and clears
 * the line when it ends. On a non-terminal stderr (scripts, tests) it shows nothing.
 */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!Deno.stderr.isTerminal()) return await work();
  const startedAt = Date.now();
  const show = (text: string): void => {
    try {
      write(Deno.stderr, text);
    } catch (error: unknown) {
      if (!isBrokenPipe(error)) throw error;
    }
  };
  const timer = setInterval(() => {
    show(`\r\x1b[K${label}... ${Math.floor((Date.now() - startedAt) / 1000)} s`);
  }, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    show("\r\x1b[K");
  }
}

/**
 * Asks a yes/no question on the terminal (the question on stderr, the answer from stdin); true
 * only for `y` or `yes`. Callers check that stdin is a terminal first.
 */
export async function askYesNo(question: string): Promise<boolean> {
  write(Deno.stderr, `${question} [y/N] `);
  const buffer = new Uint8Array(1024);
  let answer = "";
  while (!answer.includes("\n")) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    answer += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return /^\s*y(es)?\s*$/i.test(answer.split("\n")[0] ?? "");
}

/** Left-aligns `text` in `width` columns (longer text is kept whole). */
export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/**
 * Rows of cells as aligned lines: each column as wide as its widest cell, and at least
 * `minWidths[i]`; one space between columns; the last cell is not padded and no line ends in
 * spaces.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { alignColumns } from "./output.ts";
 * deepEqual(alignColumns([["ID", "HEALTH"], ["a", "unhealthy"], ["bb", "ok"]]), [
 *   "ID HEALTH",
 *   "a  unhealthy",
 *   "bb ok",
 * ]);
 * ```
 */
export function alignColumns(
  rows: readonly (readonly string[])[],
  minWidths: readonly number[] = [],
): string[] {
  const widths: number[] = [...minWidths];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : pad(cell, widths[i]!)).join(" ").trimEnd()
  );
}
