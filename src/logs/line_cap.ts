/**
 * Caps a log line in UTF-8 bytes, cutting on a character boundary and marking the cut. Pure.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * `line` cut to at most `maxBytes` UTF-8 bytes of text plus a ` [cut N bytes]` marker, with its
 * stored size in bytes.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(capLineBytes("hello", 16), { message: "hello", bytes: 5 });
 * deepEqual(capLineBytes("héllo world", 6), { message: "héllo [cut 6 bytes]", bytes: 20 });
 * ```
 */
export function capLineBytes(line: string, maxBytes: number): { message: string; bytes: number } {
  // Fast path: even all three-byte characters fit.
  if (line.length * 3 <= maxBytes) return { message: line, bytes: byteLength(line) };
  const bytes = encoder.encode(line);
  if (bytes.length <= maxBytes) return { message: line, bytes: bytes.length };
  let end = maxBytes;
  // Back up to the start of a character (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  const message = `${decoder.decode(bytes.subarray(0, end))} [cut ${bytes.length - end} bytes]`;
  return { message, bytes: byteLength(message) };
}

function byteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
