import { equal, notEqual, ok } from "node:assert/strict";
import { pickFreeUid } from "./uid_pick.ts";

const RANGE = { start: 61184, end: 65519 };

Deno.test("pickFreeUid() gives an instance the same first choice every time, inside the range", () => {
  const first = pickFreeUid(RANGE, "notes:alice", () => false);
  ok(first !== undefined && first >= RANGE.start && first <= RANGE.end, String(first));
  equal(pickFreeUid(RANGE, "notes:alice", () => false), first);
  notEqual(pickFreeUid(RANGE, "notes:bob", () => false), first);
});

Deno.test("pickFreeUid() skips taken ids, wraps around the end, and gives up when all are taken", () => {
  const small = { start: 2000, end: 2003 };
  const first = pickFreeUid(small, "a:b", () => false)!;
  const next = pickFreeUid(small, "a:b", (uid) => uid === first)!;
  equal(next, first === 2003 ? 2000 : first + 1);
  equal(pickFreeUid(small, "a:b", (uid) => uid !== 2001), 2001);
  equal(pickFreeUid(small, "a:b", () => true), undefined);
  const taken = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const uid = pickFreeUid(small, `a:${i}`, (u) => taken.has(u));
    ok(uid !== undefined && !taken.has(uid));
    taken.add(uid);
  }
  equal(pickFreeUid(small, "a:4", (u) => taken.has(u)), undefined);
});
