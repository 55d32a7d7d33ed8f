/**
 * Reads and checks JSON request bodies: a typed value or a 400/413/415 that names the field.
 * @module
 */
import { messageOf } from "../core/errors.ts";
import { HttpError } from "./http_error.ts";

/** Largest accepted API body. */
export const MAX_JSON_BYTES = 2 * 1024 * 1024;

/** Parses the body as a JSON object; rejects other content types, bad JSON and non-objects. */
export async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, "Expected Content-Type: application/json");
  }
  const text = await readBoundedText(req, MAX_JSON_BYTES);
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

/**
 * The body as text, read at most `maxBytes` at a time: a larger one is refused (413) as soon as
 * its `Content-Length` or its bytes so far exceed the limit, and the rest is never read.
 *
 * @example
 * ```ts
 * import { equal, rejects } from "node:assert/strict";
 * const small = new Request("http://x/", { method: "POST", body: "{}" });
 * equal(await readBoundedText(small, 10), "{}");
 * const big = new Request("http://x/", { method: "POST", body: "x".repeat(11) });
 * await rejects(readBoundedText(big, 10), /too large/);
 * ```
 */
export async function readBoundedText(req: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, `Request body too large: the limit is ${maxBytes} bytes`, {
      headers: { connection: "close" },
    });
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
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
