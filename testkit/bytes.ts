/**
 * Byte helpers for raw HTTP: joining pieces and writing text byte for byte.
 * @module
 */

/** The pieces joined into one array. */
export function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of pieces) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Each character of `text` as one byte (Latin-1), so any byte can be written in a string. */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
