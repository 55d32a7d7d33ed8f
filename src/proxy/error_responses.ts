/**
 * The error answers of the proxy (`front_server.ts`), in one place: which status a failure maps
 * to, its plain-text or HTML body and its headers, and the raw HTTP/1.1 bytes of such an answer.
 * Bodies never carry internals (paths, ports, error messages). Pure: no I/O.
 * @module
 */
import {
  ForbiddenError,
  InstanceDisabledError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
} from "../core/errors.ts";

/** An error answer: status, end-to-end headers and body text. */
export interface ErrorPage {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

/** Seconds a client is told to wait when the cause gives no better estimate. */
const DEFAULT_RETRY_AFTER_SECS = 5;

const PLAIN = "text/plain; charset=utf-8";
const HTML = "text/html; charset=utf-8";

/** Reason phrases of the statuses the proxy produces. */
const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * A plain-text page: `text` plus a newline, `content-type: text/plain; charset=utf-8`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(plainPage(502, "Bad gateway").body, "Bad gateway\n");
 * ```
 */
export function plainPage(
  status: number,
  text: string,
  headers: readonly (readonly [string, string])[] = [],
): ErrorPage {
  return { status, headers: [...headers, ["content-type", PLAIN]], body: `${text}\n` };
}

/** 400 for a Host under the domain whose labels are not a valid service or id. */
export function invalidHostPage(reason: string): ErrorPage {
  return plainPage(400, `Bad request: invalid host: ${reason}`);
}

/** 400 for a request that is not acceptable HTTP/1.x (smuggling attempts included). */
export function malformedRequestPage(): ErrorPage {
  return plainPage(400, "Bad request");
}

/** 502: the instance refused, reset or answered with something that is not HTTP. */
export function badGatewayPage(): ErrorPage {
  return plainPage(502, "Bad gateway");
}

/** 504: no response head within the service's `request_timeout`. */
export function gatewayTimeoutPage(): ErrorPage {
  return plainPage(504, "Gateway timeout");
}

/**
 * The answer when no target could be found for a request: 404 for an unknown service or id, 403
 * when it is not allowed (naming the instance when the operator disabled it), 429 with
 * `Retry-After` when the client is over a per-client rate, else 503 with `Retry-After` (an HTML
 * page for clients that accept `text/html`, so a browser shows something readable). A client that
 * went away meanwhile gets no answer at all.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { NotFoundError, UnavailableError } from "../core/errors.ts";
 * equal(resolveFailurePage(new NotFoundError("x"), { accept: null }).status, 404);
 * const page = resolveFailurePage(new UnavailableError("x", 7), { accept: "text/html" });
 * equal(page.status, 503);
 * equal(page.headers.find(([name]) => name === "retry-after")?.[1], "7");
 * ```
 */
export function resolveFailurePage(
  err: unknown,
  request: { readonly accept: string | null },
): ErrorPage {
  if (err instanceof NotFoundError) return plainPage(404, "Not found");
  if (err instanceof InstanceDisabledError) return disabledPage(err.instance, request);
  if (err instanceof ForbiddenError) return plainPage(403, "Forbidden");
  if (err instanceof RateLimitedError) {
    return plainPage(429, "Too many requests, retry later", [
      ["retry-after", String(err.retryAfterSecs)],
    ]);
  }
  const retryAfter = err instanceof UnavailableError
    ? err.retryAfterSecs
    : DEFAULT_RETRY_AFTER_SECS;
  const retry: [string, string] = ["retry-after", String(retryAfter)];
  if ((request.accept ?? "").includes("text/html")) {
    return { status: 503, headers: [retry, ["content-type", HTML]], body: UNAVAILABLE_HTML };
  }
  return plainPage(503, "Service temporarily unavailable", [retry]);
}

/**
 * 403 for an instance the operator disabled (`ten disable`): it names the instance (which the
 * Host names already), as HTML for browsers.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(disabledPage("notes:alice", { accept: null }).body, "notes:alice is disabled by the operator\n");
 * ```
 */
export function disabledPage(
  instance: string,
  request: { readonly accept: string | null },
): ErrorPage {
  const text = `${instance} is disabled by the operator`;
  if (!(request.accept ?? "").includes("text/html")) return plainPage(403, text);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Disabled</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>Disabled</h1>
<p>${escapeHtml(text)}.</p></body></html>
`;
  return { status: 403, headers: [["content-type", HTML]], body: html };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Options for {@linkcode serializeErrorPage}. */
export interface SerializeOptions {
  /** The request was `HEAD`: send the head (with its Content-Length) but no body. */
  readonly isHead?: boolean;
  /** Add `Connection: close` (the connection ends after this answer). */
  readonly isClose?: boolean;
  /** Add `Connection: keep-alive` (an HTTP/1.0 client that asked to keep the connection). */
  readonly isKeepAlive10?: boolean;
}

const encoder = new TextEncoder();

/**
 * The raw HTTP/1.1 bytes of an error page, framed with `Content-Length`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * const bytes = serializeErrorPage(plainPage(404, "Not found"), { isClose: true });
 * equal(
 *   new TextDecoder().decode(bytes),
 *   "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\n" +
 *     "content-length: 10\r\nconnection: close\r\n\r\nNot found\n",
 * );
 * ```
 */
export function serializeErrorPage(page: ErrorPage, options: SerializeOptions = {}): Uint8Array {
  const body = encoder.encode(page.body);
  let head = `HTTP/1.1 ${page.status} ${REASONS[page.status] ?? "Error"}\r\n`;
  for (const [name, value] of page.headers) head += `${name}: ${value}\r\n`;
  head += `content-length: ${body.length}\r\n`;
  if (options.isClose === true) head += "connection: close\r\n";
  else if (options.isKeepAlive10 === true) head += "connection: keep-alive\r\n";
  head += "\r\n";
  const headBytes = encoder.encode(head);
  if (options.isHead === true) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}

/** The interim answer to `Expect: 100-continue`. */
export const CONTINUE_BYTES: Uint8Array = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");

const UNAVAILABLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>Temporarily unavailable</h1>
<p>This app is starting up or restarting. Please try again in a few seconds.</p></body></html>
`;
