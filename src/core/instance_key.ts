/**
 * Instance identifiers: the `service:id` form used by the CLI and the API, and the name rule that
 * keeps every id inside its data dir. Pure: no I/O.
 * @module
 */
import { InvalidInputError } from "./errors.ts";

/** `service:id`, the one textual form of an instance's identity. */
export type InstanceKey = `${string}:${string}`;

/** A parsed instance identity. */
export interface InstanceRef {
  readonly service: string;
  readonly id: string;
}

/**
 * Letters, digits, `-` and `_`, starting with a letter or digit: an id is substituted for `{id}`
 * in commands, and one that starts with `-` (`-rf`, `--help`) would be read as an option.
 */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/**
 * Says why `name` is not a valid service name or id, or returns undefined when it is valid.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(nameProblem("alice"), undefined);
 * equal(nameProblem("a.b"), 'contains "." (allowed: letters, digits, "-" and "_")');
 * equal(nameProblem("-rf"), 'starts with "-" (it must start with a letter or digit)');
 * ```
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > 63) return `is ${name.length} characters long (at most 63)`;
  if (NAME_PATTERN.test(name)) return undefined;
  const bad = [...name].find((c) => !/[A-Za-z0-9_-]/.test(c));
  if (bad === undefined) {
    return `starts with ${JSON.stringify(name[0])} (it must start with a letter or digit)`;
  }
  const shown = bad === " " ? "a space" : JSON.stringify(bad);
  return `contains ${shown} (allowed: letters, digits, "-" and "_")`;
}

/** True when `name` is 1-63 letters, digits, `-` or `_`, starting with a letter or digit. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/**
 * Throws InvalidInputError when `name` is not a valid service name or instance id.
 * @param what "service" or "id", used in the message and as the error's field.
 */
export function assertValidName(name: string, what: "service" | "id", field: string = what): void {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new InvalidInputError(`Invalid ${what} ${JSON.stringify(name)}: ${problem}`, field);
  }
}

/**
 * Parses `service:id`. Everything before the first colon is the service; both parts must be valid
 * names, so an id with a further colon is rejected.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(parseInstanceKey("notes:alice"), { service: "notes", id: "alice" });
 * ```
 */
export function parseInstanceKey(text: string, field = "instance"): InstanceRef {
  const colon = text.indexOf(":");
  if (colon < 0) {
    throw new InvalidInputError(
      `Invalid instance format ${JSON.stringify(text)}: use service:id (e.g. notes:alice)`,
      field,
    );
  }
  const service = text.slice(0, colon);
  const id = text.slice(colon + 1);
  assertValidName(service, "service", field);
  assertValidName(id, "id", field);
  return { service, id };
}

/** Formats a reference as `service:id`. */
export function formatInstanceKey(ref: InstanceRef): InstanceKey {
  return `${ref.service}:${ref.id}`;
}
