/**
 * HTTP errors and the one place that renders any error as an API response
 * (`{"error": "...", "field": "..."}`).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  ConflictError,
  DeployError,
  ForbiddenError,
  InvalidInputError,
  messageOf,
  NotFoundError,
  SpawnError,
  TenementError,
  UnavailableError,
} from "../core/errors.ts";
import type { ErrorBody } from "./wire.ts";

const log = getLogger(["tenement", "api"]);

/** An error that knows its HTTP status. */
export class HttpError extends TenementError {
  override name = "HttpError";
  readonly status: number;
  readonly field: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: number,
    message: string,
    options: { field?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}

/** Status for an error. */
function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof InvalidInputError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof ConflictError) return 409;
  if (err instanceof UnavailableError) return 503;
  if (err instanceof SpawnError || err instanceof DeployError) return 422;
  return 500;
}

/** Renders any error as a JSON API response; unexpected errors are logged, not leaked. */
export function errorResponse(err: unknown): Response {
  const status = statusOf(err);
  const body: { error: string; field?: string; details?: readonly string[] } = {
    error: status === 500 ? "Internal server error" : messageOf(err),
  };
  if (err instanceof HttpError && err.field !== undefined) body.field = err.field;
  if (err instanceof InvalidInputError && err.field !== undefined) body.field = err.field;
  if (err instanceof DeployError) body.details = err.details;
  if (err instanceof SpawnError && err.details.length > 0) body.details = err.details;
  if (status === 500) log.error("Unexpected error: {err}", { err: String(err) });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(err instanceof HttpError ? err.headers : {}),
  };
  if (err instanceof UnavailableError) headers["retry-after"] = String(err.retryAfterSecs);
  return new Response(JSON.stringify(body satisfies ErrorBody), { status, headers });
}

/** A JSON response. */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}
