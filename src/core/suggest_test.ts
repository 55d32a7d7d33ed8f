import { equal } from "node:assert/strict";
import { editDistance, suggest } from "./suggest.ts";

Deno.test("editDistance() counts edits, with an adjacent swap costing one", () => {
  const cases: [string, string, number][] = [
    ["", "", 0],
    ["", "abc", 3],
    ["abc", "", 3],
    ["abc", "abc", 0],
    ["abc", "abd", 1],
    ["abc", "ab", 1],
    ["ab", "abc", 1],
    ["ab", "ba", 1],
    ["restart", "restrat", 1],
    ["kitten", "sitting", 3],
    ["ca", "abc", 3],
  ];
  for (const [a, b, expected] of cases) equal(editDistance(a, b), expected, `${a} → ${b}`);
});

Deno.test("suggest() returns the closest candidate within the threshold", () => {
  equal(suggest("idle_timout", ["command", "idle_timeout", "health"]), "idle_timeout");
  equal(suggest("comand", ["command", "args"]), "command");
  equal(suggest("procss", ["process", "namespace"]), "process");
  equal(suggest("Process", ["process"]), "process");
  equal(suggest("servce", ["settings", "service"]), "service");
});

Deno.test("suggest() returns undefined when nothing is close", () => {
  equal(suggest("banana", ["command", "health"]), undefined);
  equal(suggest("x", []), undefined);
  // Short words allow only one edit.
  equal(suggest("ab", ["xy"]), undefined);
  equal(suggest("ab", ["ax"]), "ax");
});

Deno.test("suggest() prefers the smaller distance, then the earlier candidate", () => {
  equal(suggest("idle_timeot", ["idle_tim", "idle_timeout"]), "idle_timeout");
  equal(suggest("abcd", ["abce", "abcf"]), "abce");
});
