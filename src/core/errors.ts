/**
 * The error hierarchy shared by every layer. Each class carries a `code` that the API and the CLI
 * render in one place each (`api/http_error.ts`, `cli/run_cli.ts`). Pure: no I/O.
 * @module
 */

/** Base class of every error tenement raises on purpose. */
export class TenementError extends Error {
  override name = "TenementError";
  readonly code: string = "internal";
}

/** Where in a config file a problem was found. */
export interface ConfigLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted key path, e.g. `service.notes.idle_timeout`. */
  readonly key?: string;
}

/** A problem in `tenement.toml`; the message is prefixed with `file:line:column`. */
export class ConfigError extends TenementError {
  override name = "ConfigError";
  override readonly code = "config";
  readonly at: ConfigLocation;
  readonly problem: string;
  constructor(problem: string, at: ConfigLocation, options?: ErrorOptions) {
    super(`${at.file}:${at.line}:${at.column}: ${problem}`, options);
    this.at = at;
    this.problem = problem;
  }
}

/** Several config problems, reported together so users fix them in one pass. */
export class ConfigErrors extends TenementError {
  override name = "ConfigErrors";
  override readonly code = "config";
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super(
      errors.length === 1
        ? errors[0]!.message
        : `${errors.length} problems in config:\n${errors.map((e) => `  ${e.message}`).join("\n")}`,
    );
    this.errors = errors;
  }
}

/** Bad input from a user (CLI argument, API field, Host header). Maps to HTTP 400. */
export class InvalidInputError extends TenementError {
  override name = "InvalidInputError";
  override readonly code = "invalid_input";
  readonly field: string | undefined;
  constructor(message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** Something named does not exist. Maps to HTTP 404. */
export class NotFoundError extends TenementError {
  override name = "NotFoundError";
  override readonly code = "not_found";
}

/** The request conflicts with current state. Maps to HTTP 409. */
export class ConflictError extends TenementError {
  override name = "ConflictError";
  override readonly code = "conflict";
}

/** Not allowed for this identity. Maps to HTTP 403. */
export class ForbiddenError extends TenementError {
  override name = "ForbiddenError";
  override readonly code = "forbidden";
}

/**
 * A request for an instance the operator disabled (`ten disable`): no request wakes it. Maps to
 * HTTP 403; the proxy's page names the instance.
 */
export class InstanceDisabledError extends ForbiddenError {
  override name = "InstanceDisabledError";
  /** `service:id`. */
  readonly instance: string;
  constructor(instance: string, options?: ErrorOptions) {
    super(`${instance} is disabled by the operator`, options);
    this.instance = instance;
  }
}

/** A service or instance cannot serve right now (wake failed, queue full). Maps to HTTP 503. */
export class UnavailableError extends TenementError {
  override name = "UnavailableError";
  override readonly code = "unavailable";
  /** Suggested client wait before retrying, in seconds. */
  readonly retryAfterSecs: number;
  constructor(message: string, retryAfterSecs = 5, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterSecs = retryAfterSecs;
  }
}

/**
 * One client asked for too much (wakes or auto-creations over its per-client rate). Maps to
 * HTTP 429 with `Retry-After`.
 */
export class RateLimitedError extends UnavailableError {
  override name = "RateLimitedError";
}

/** Something took longer than allowed. */
export class TimeoutError extends TenementError {
  override name = "TimeoutError";
  override readonly code = "timeout";
}

/**
 * Starting a process failed (bad command, exited or never listened during start-up, isolation
 * unavailable); `details` may carry the last stderr lines.
 */
export class SpawnError extends TenementError {
  override name = "SpawnError";
  override readonly code = "spawn";
  readonly details: readonly string[];
  constructor(message: string, options?: ErrorOptions & { readonly details?: readonly string[] }) {
    super(message, options);
    this.details = options?.details ?? [];
  }
}

/** A deploy did not become healthy; `details` carries the last health result and stderr tail. */
export class DeployError extends TenementError {
  override name = "DeployError";
  override readonly code = "deploy";
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.details = details;
  }
}

/**
 * The message of anything thrown: `err.message` for errors, the value as text otherwise.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(messageOf(new Error("boom")), "boom");
 * equal(messageOf("plain"), "plain");
 * ```
 */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
