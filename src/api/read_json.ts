/**
 * Reads and checks JSON request bodies: a typed value or a 400/413/415 that names the field.
 * @module
 */
import { messageOf } from "../core/errors.ts";
import { HttpError } from "./http_error.ts";

/** Largest accepted API body. */
const MAX_JSON_BYTES = 2 * 1024 * 1024;

/** Parses the body as a JSON object; rejects other content types, bad JSON and non-objects. */
export async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, "Expected Content-Type: application/json");
  }
  const text = await req.text();
  if (text.length > MAX_JSON_BYTES) throw new HttpError(413, "Request body too large");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err: unknown) {
    throw new HttpError(400, `Invalid JSON body: ${messageOf(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "Invalid JSON body: expected an object");
  }
  return value as Record<string, unknown>;
}

/** A required string field. */
export function stringField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined) throw new HttpError(400, `Missing field "${field}"`, { field });
  if (typeof value !== "string") {
    throw new HttpError(400, `Field "${field}" must be a string`, { field });
  }
  return value;
}
