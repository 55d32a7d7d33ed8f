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

/** Left-aligns `text` in `width` columns (longer text is kept whole). */
export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}
