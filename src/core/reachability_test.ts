import { deepEqual, equal } from "node:assert/strict";
import {
  type Access,
  ancestorsOf,
  canAccess,
  firstUnreachable,
  type PathFacts,
} from "./reachability.ts";

const INSTANCE = { uid: 61190, gid: 61190 };

function facts(mode: number, uid = 0, gid = 0): PathFacts {
  return { path: "/p", mode, uid, gid };
}

Deno.test("canAccess() uses the owner's, else the group's, else the others' bits", () => {
  const cases: [PathFacts, Access, boolean][] = [
    [facts(0o700), "x", false],
    [facts(0o711), "x", true],
    [facts(0o711), "r", false],
    [facts(0o755), "rx", true],
    [facts(0o750, 0, 61190), "rx", true],
    [facts(0o705, 0, 61190), "r", false], // the group's bits apply, not the others'
    [facts(0o077, 61190, 61190), "r", false], // the owner's bits apply, even when fewer
    [facts(0o500, 61190), "rx", true],
    [facts(0o644), "rx", false],
    [facts(0o644), "r", true],
  ];
  for (const [f, access, expected] of cases) {
    equal(canAccess(f, INSTANCE, access), expected, `${f.mode.toString(8)} ${access}`);
  }
  equal(canAccess(facts(0o000), { uid: 0, gid: 0 }, "rx"), true);
});

Deno.test("firstUnreachable() names the first blocking directory and its mode", () => {
  const steps = [
    { facts: { path: "/", mode: 0o755, uid: 0, gid: 0 }, access: "x" as const },
    { facts: { path: "/root", mode: 0o700, uid: 0, gid: 0 }, access: "x" as const },
    { facts: { path: "/root/apps", mode: 0o755, uid: 0, gid: 0 }, access: "x" as const },
    { facts: { path: "/root/apps/app.py", mode: 0o600, uid: 0, gid: 0 }, access: "r" as const },
  ];
  equal(firstUnreachable(steps, INSTANCE)?.reason, "/root is mode 0700");
  const opened = steps.map((s) => s.facts.path === "/root" ? { ...s, facts: facts(0o711) } : s);
  equal(
    firstUnreachable(opened, INSTANCE)?.reason,
    "/root/apps/app.py is mode 0600 and not readable by it",
  );
  equal(firstUnreachable(steps.slice(0, 1), INSTANCE), undefined);
});

Deno.test("ancestorsOf() lists the directories above a path, root first", () => {
  deepEqual(ancestorsOf("/srv/app/bin/app"), ["/", "/srv", "/srv/app", "/srv/app/bin"]);
  deepEqual(ancestorsOf("/app"), ["/"]);
  deepEqual(ancestorsOf("//srv//app/"), ["/", "/srv"]);
});
