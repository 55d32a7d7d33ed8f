/**
 * Byte values and character classes the HTTP/1.1 parsers share. Pure.
 * @module
 */

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HT = 9;
export const COLON = 58;

/** tchar (RFC 9110 §5.6.2), the bytes allowed in methods and field names: 1 where allowed. */
export const TCHAR: Uint8Array = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}
