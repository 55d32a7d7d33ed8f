import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { InvalidInputError } from "./errors.ts";
import {
  assertValidName,
  formatInstanceKey,
  isValidName,
  nameProblem,
  parseInstanceKey,
} from "./instance_key.ts";

const ALLOWED = '(allowed: letters, digits, "-" and "_")';
const FIRST = "(it must start with a letter or digit)";

Deno.test("isValidName() accepts 1-63 letters, digits, - and _ from a letter or digit", () => {
  for (const name of ["a", "Z", "0", "alice", "my-app_2", "9-", "a_", "a".repeat(63)]) {
    ok(isValidName(name), name);
    equal(nameProblem(name), undefined, name);
  }
});

Deno.test("nameProblem() says what is wrong with an invalid name", async (t) => {
  const cases: [name: string, problem: string][] = [
    ["", "is empty"],
    ["a".repeat(64), "is 64 characters long (at most 63)"],
    ["a".repeat(1000), "is 1000 characters long (at most 63)"],
    ["..", `contains "." ${ALLOWED}`],
    ["a.b", `contains "." ${ALLOWED}`],
    ["../etc", `contains "." ${ALLOWED}`],
    ["a/b", `contains "/" ${ALLOWED}`],
    ["/", `contains "/" ${ALLOWED}`],
    ["a\\b", `contains "\\\\" ${ALLOWED}`],
    ["a b", `contains a space ${ALLOWED}`],
    [" alice", `contains a space ${ALLOWED}`],
    ["alice\n", `contains "\\n" ${ALLOWED}`],
    ["alice\t", `contains "\\t" ${ALLOWED}`],
    ["a\u0000b", `contains "\\u0000" ${ALLOWED}`],
    ["a:b", `contains ":" ${ALLOWED}`],
    ["ñ", `contains "ñ" ${ALLOWED}`],
    ["café", `contains "é" ${ALLOWED}`],
    ["app😀", `contains "😀" ${ALLOWED}`],
    ["ａlice", `contains "ａ" ${ALLOWED}`],
    ["-", `starts with "-" ${FIRST}`],
    ["_", `starts with "_" ${FIRST}`],
    ["-rf", `starts with "-" ${FIRST}`],
    ["--help", `starts with "-" ${FIRST}`],
    ["_alice", `starts with "_" ${FIRST}`],
    ["-a.b", `contains "." ${ALLOWED}`],
  ];
  for (const [name, problem] of cases) {
    await t.step(JSON.stringify(name), () => {
      equal(nameProblem(name), problem);
      equal(isValidName(name), false);
    });
  }
});

Deno.test("assertValidName() throws an InvalidInputError naming what and the field", () => {
  throws(() => assertValidName("a b", "id"), (err: unknown) => {
    ok(err instanceof InvalidInputError);
    equal(err.message, `Invalid id "a b": contains a space ${ALLOWED}`);
    equal(err.field, "id");
    return true;
  });
  throws(() => assertValidName("", "service", "body.service"), (err: unknown) => {
    ok(err instanceof InvalidInputError);
    equal(err.message, 'Invalid service "": is empty');
    equal(err.field, "body.service");
    return true;
  });
  assertValidName("alice", "id");
});

Deno.test("parseInstanceKey() splits service:id", () => {
  deepEqual(parseInstanceKey("notes:alice"), { service: "notes", id: "alice" });
  deepEqual(parseInstanceKey("my-app_2:Bob-1"), { service: "my-app_2", id: "Bob-1" });
  const long = "x".repeat(63);
  deepEqual(parseInstanceKey(`${long}:${long}`), { service: long, id: long });
});

Deno.test("parseInstanceKey() rejects every malformed key with InvalidInputError", async (t) => {
  const cases: [text: string, message: string][] = [
    ["", 'Invalid instance format "": use service:id (e.g. notes:alice)'],
    ["notes", 'Invalid instance format "notes": use service:id (e.g. notes:alice)'],
    ["notes/alice", 'Invalid instance format "notes/alice": use service:id (e.g. notes:alice)'],
    [":", 'Invalid service "": is empty'],
    [":alice", 'Invalid service "": is empty'],
    ["notes:", 'Invalid id "": is empty'],
    ["notes:al:ice", `Invalid id "al:ice": contains ":" ${ALLOWED}`],
    ["notes::alice", `Invalid id ":alice": contains ":" ${ALLOWED}`],
    ["notes:..", `Invalid id "..": contains "." ${ALLOWED}`],
    ["notes:../../etc", `Invalid id "../../etc": contains "." ${ALLOWED}`],
    ["..:alice", `Invalid service "..": contains "." ${ALLOWED}`],
    ["notes:a/b", `Invalid id "a/b": contains "/" ${ALLOWED}`],
    ["notes:a b", `Invalid id "a b": contains a space ${ALLOWED}`],
    ["notes :alice", `Invalid service "notes ": contains a space ${ALLOWED}`],
    ["notes:alice.v2", `Invalid id "alice.v2": contains "." ${ALLOWED}`],
    [
      `notes:${"a".repeat(64)}`,
      `Invalid id "${"a".repeat(64)}": is 64 characters long (at most 63)`,
    ],
    [
      `${"s".repeat(64)}:alice`,
      `Invalid service "${"s".repeat(64)}": is 64 characters long (at most 63)`,
    ],
    ["notes:ålice", `Invalid id "ålice": contains "å" ${ALLOWED}`],
    ["nötes:alice", `Invalid service "nötes": contains "ö" ${ALLOWED}`],
    ["notes:-rf", `Invalid id "-rf": starts with "-" ${FIRST}`],
    ["notes:--help", `Invalid id "--help": starts with "-" ${FIRST}`],
    ["_notes:alice", `Invalid service "_notes": starts with "_" ${FIRST}`],
  ];
  for (const [text, message] of cases) {
    await t.step(JSON.stringify(text), () => {
      throws(() => parseInstanceKey(text), (err: unknown) => {
        ok(err instanceof InvalidInputError, String(err));
        equal(err.message, message);
        equal(err.field, "instance");
        return true;
      });
    });
  }
});

Deno.test("parseInstanceKey() reports the caller's field", () => {
  throws(
    () => parseInstanceKey("nope", "target"),
    (err: unknown) => err instanceof InvalidInputError && err.field === "target",
  );
});

Deno.test("formatInstanceKey() is the inverse of parseInstanceKey()", () => {
  equal(formatInstanceKey({ service: "notes", id: "alice" }), "notes:alice");
  for (const key of ["notes:alice", "a:b", "my-app_2:Bob-1"]) {
    equal(formatInstanceKey(parseInstanceKey(key)), key);
  }
});
