/**
 * `ten report --webhook URL`: POSTs the report as JSON with a timeout per try, and tries again
 * with a growing delay on network errors, timeouts and 5xx answers (not on 4xx: the receiver
 * refused it, and asking again will not change that).
 * @module
 */
import { InvalidInputError, TenementError } from "../../core/errors.ts";

/** Options of {@linkcode postWebhook}. */
export interface WebhookOptions {
  /** Time allowed for one try. @default {10_000} */
  readonly timeoutMs?: number;
  /** Tries in all. @default {3} */
  readonly tries?: number;
  /** Delay before the second try; doubled before each next one. @default {1_000} */
  readonly backoffMs?: number;
}

/**
 * The webhook URL, checked: http or https only.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * throws(() => parseWebhookUrl("ftp://example.com/x"));
 * ```
 */
export function parseWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(`Invalid --webhook "${text}": not a URL`, "webhook");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidInputError(
      `Invalid --webhook "${text}": expected an http:// or https:// URL`,
      "webhook",
    );
  }
  return url;
}

/**
 * POSTs `body` as JSON to `url`; resolves with the number of tries it took, or throws a
 * {@linkcode TenementError} naming the last failure.
 */
export async function postWebhook(
  url: URL,
  body: unknown,
  options: WebhookOptions = {},
): Promise<number> {
  const tries = Math.max(1, options.tries ?? 3);
  const timeoutMs = options.timeoutMs ?? 10_000;
  let delayMs = options.backoffMs ?? 1_000;
  const json = JSON.stringify(body);
  let lastProblem = "";
  for (let attempt = 1; attempt <= tries; attempt++) {
    const outcome = await tryOnce(url, json, timeoutMs);
    if (outcome.kind === "ok") return attempt;
    lastProblem = outcome.problem;
    if (outcome.kind === "refused") break;
    if (attempt < tries) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs *= 2;
    }
  }
  throw new TenementError(`Webhook ${url.origin} failed: ${lastProblem}`);
}

type Outcome =
  | { readonly kind: "ok" }
  | { readonly kind: "retry"; readonly problem: string }
  | { readonly kind: "refused"; readonly problem: string };

async function tryOnce(url: URL, json: string, timeoutMs: number): Promise<Outcome> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "tenement-report" },
      body: json,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (res.ok) return { kind: "ok" };
    const problem = `answered ${res.status} ${res.statusText}`.trim();
    return res.status >= 500 ? { kind: "retry", problem } : { kind: "refused", problem };
  } catch (error: unknown) {
    const isTimeout = error instanceof DOMException && error.name === "TimeoutError";
    return {
      kind: "retry",
      problem: isTimeout
        ? `no answer within ${timeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error),
    };
  }
}
