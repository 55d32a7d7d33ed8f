import { equal, ok } from "node:assert/strict";
import {
  ConfigError,
  ConfigErrors,
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  SpawnError,
  TenementError,
  TimeoutError,
  UnavailableError,
} from "./errors.ts";

Deno.test("every error class has its own name and code and is a TenementError", () => {
  const at = { file: "tenement.toml", line: 1, column: 1 };
  const cases: [error: TenementError, name: string, code: string][] = [
    [new TenementError("x"), "TenementError", "internal"],
    [new ConfigError("x", at), "ConfigError", "config"],
    [new ConfigErrors([new ConfigError("x", at)]), "ConfigErrors", "config"],
    [new InvalidInputError("x"), "InvalidInputError", "invalid_input"],
    [new NotFoundError("x"), "NotFoundError", "not_found"],
    [new ConflictError("x"), "ConflictError", "conflict"],
    [new ForbiddenError("x"), "ForbiddenError", "forbidden"],
    [new UnavailableError("x"), "UnavailableError", "unavailable"],
    [new TimeoutError("x"), "TimeoutError", "timeout"],
    [new SpawnError("x"), "SpawnError", "spawn"],
  ];
  for (const [error, name, code] of cases) {
    ok(error instanceof TenementError, name);
    ok(error instanceof Error, name);
    equal(error.name, name);
    equal(error.code, code, name);
    ok(String(error).startsWith(`${name}: `), String(error));
  }
});

Deno.test("ConfigError prefixes its message with file:line:column", () => {
  const err = new ConfigError('unknown key "idle_timout"', {
    file: "tenement.toml",
    line: 14,
    column: 1,
    key: "service.notes.idle_timout",
  });
  equal(err.message, 'tenement.toml:14:1: unknown key "idle_timout"');
  equal(err.problem, 'unknown key "idle_timout"');
  equal(err.at.key, "service.notes.idle_timout");
});

Deno.test("ConfigErrors shows one problem as is and several as an indented list", () => {
  const a = new ConfigError("a is wrong", { file: "t.toml", line: 1, column: 2 });
  const b = new ConfigError("b is wrong", { file: "t.toml", line: 3, column: 4 });
  equal(new ConfigErrors([a]).message, "t.toml:1:2: a is wrong");
  equal(
    new ConfigErrors([a, b]).message,
    "2 problems in config:\n  t.toml:1:2: a is wrong\n  t.toml:3:4: b is wrong",
  );
  equal(new ConfigErrors([a, b]).errors.length, 2);
});

Deno.test("InvalidInputError and UnavailableError carry their data and cause", () => {
  const cause = new Error("root");
  const invalid = new InvalidInputError("bad", "body.weight", { cause });
  equal(invalid.field, "body.weight");
  equal(invalid.cause, cause);
  equal(new InvalidInputError("bad").field, undefined);
  equal(new UnavailableError("busy").retryAfterSecs, 5);
  const unavailable = new UnavailableError("busy", 30, { cause });
  equal(unavailable.retryAfterSecs, 30);
  equal(unavailable.cause, cause);
});
