/**
 * Picks the id `user = "auto"` gives a new instance: free in the range (no other instance holds
 * it, no user or group in `/etc/passwd` or `/etc/group` has it), and the same first choice for
 * the same instance every time, so a lost allocation tends to come back to the same id. Pure.
 * @module
 */

/** An inclusive range of ids (`auto_user_range`). */
export interface IdRange {
  readonly start: number;
  readonly end: number;
}

/** FNV-1a of `text`: a stable, well-spread starting point in the range. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The first free id from the instance's own starting point onwards (wrapping around), or
 * undefined when every id of the range is taken.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const range = { start: 61184, end: 61186 };
 * const first = pickFreeUid(range, "notes:alice", () => false)!;
 * equal(pickFreeUid(range, "notes:alice", () => false), first);
 * equal(pickFreeUid(range, "notes:alice", (uid) => uid !== 61185), 61185);
 * equal(pickFreeUid(range, "notes:alice", () => true), undefined);
 * ```
 */
export function pickFreeUid(
  range: IdRange,
  instanceKey: string,
  isTaken: (uid: number) => boolean,
): number | undefined {
  const size = range.end - range.start + 1;
  const offset = hashOf(instanceKey) % size;
  for (let i = 0; i < size; i++) {
    const uid = range.start + ((offset + i) % size);
    if (!isTaken(uid)) return uid;
  }
  return undefined;
}
