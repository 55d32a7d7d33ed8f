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
  /** One line. */
  line(text: string): void {
    write(Deno.stderr, `${text}\n`);
  },
};

/**
 * Runs `work` while showing `label... N s` on stderr, redrawn in place every second, and clears
 * the line when it ends. On a non-terminal stderr (scripts, tests) it shows nothing.
 */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!Deno.stderr.isTerminal()) return await work();
  const startedAt = Date.now();
  const timer = setInterval(() => {
    const secs = Math.floor((Date.now() - startedAt) / 1000);
    write(Deno.stderr, `\r\x1b[K${label}... ${secs} s`);
  }, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    write(Deno.stderr, "\r\x1b[K");
  }
}

/** Left-aligns `text` in `width` columns (longer text is kept whole). */
export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}
