/**
 * Lines on stdout and stderr for benchmarks and test tooling (`console` is linted out, and a
 * synchronous write keeps lines whole and in order when the process exits right after).
 * @module
 */

const encoder = new TextEncoder();

function writeAllSync(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/** One line on stdout (results). */
export function print(text = ""): void {
  writeAllSync(Deno.stdout, `${text}\n`);
}

/** One line on stderr (progress and warnings). */
export function progress(text: string): void {
  writeAllSync(Deno.stderr, `${text}\n`);
}
