/**
 * The dashboard at the bare domain: `GET /` (the page) and `GET /assets/<name>` (its script, style
 * and the uPlot chart library). The files are embedded with text imports, so the compiled binary
 * reads nothing from disk. They hold no data (the page asks the API with the signed-in token), so
 * they are public. Served with a strict Content-Security-Policy and ETags from their content.
 * @module
 */
import indexHtml from "./assets/index.html" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

/** Where the assets are served (public, per the API's auth rules). */
export const DASHBOARD_ASSET_PREFIX = "/assets/";

/**
 * The page's policy: its own scripts, styles and API only, no inline code (tenant log lines are
 * rendered as text, and even a slip could not run a script), no framing, no form posts.
 */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

interface Asset {
  readonly body: string;
  readonly contentType: string;
}

const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", { body: indexHtml, contentType: "text/html; charset=utf-8" }],
  ["/assets/app.js", { body: appJs, contentType: "text/javascript; charset=utf-8" }],
  ["/assets/app.css", { body: appCss, contentType: "text/css; charset=utf-8" }],
  ["/assets/uplot.js", { body: uplotJs, contentType: "text/javascript; charset=utf-8" }],
  ["/assets/uplot.css", { body: uplotCss, contentType: "text/css; charset=utf-8" }],
]);

/** An asset ready to send. */
interface PreparedAsset {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly etag: string;
  readonly contentType: string;
}

/** Encoded bodies and ETags, computed on first use. */
let prepared: Promise<ReadonlyMap<string, PreparedAsset>> | undefined;

async function prepare(): Promise<ReadonlyMap<string, PreparedAsset>> {
  const out = new Map<string, PreparedAsset>();
  const encoder = new TextEncoder();
  for (const [path, asset] of ASSETS) {
    const bytes = encoder.encode(asset.body);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest.slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
    out.set(path, { bytes, etag: `"${hex}"`, contentType: asset.contentType });
  }
  return out;
}

/** True for the paths {@linkcode serveDashboard} answers (before method checks). */
export function isDashboardPath(pathname: string): boolean {
  return pathname === "/" || pathname.startsWith(DASHBOARD_ASSET_PREFIX);
}

/** True when `If-None-Match` names `etag` (or is `*`). */
function matchesEtag(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim().replace(/^W\//, "");
    return t === "*" || t === etag;
  });
}

/**
 * Answers `GET`/`HEAD` of `/` and `/assets/<name>`: 200 with the asset, 304 when `If-None-Match`
 * names its ETag, 404 for an unknown asset, 405 for other methods; undefined for other paths.
 */
export async function serveDashboard(req: Request): Promise<Response | undefined> {
  const { pathname } = new URL(req.url);
  if (!isDashboardPath(pathname)) return undefined;
  const headers = new Headers({
    "content-security-policy": DASHBOARD_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  });
  if (req.method !== "GET" && req.method !== "HEAD") {
    headers.set("allow", "GET, HEAD");
    headers.set("content-type", "text/plain; charset=utf-8");
    return new Response("Method not allowed\n", { status: 405, headers });
  }
  const found = (await (prepared ??= prepare())).get(pathname);
  if (found === undefined) {
    headers.set("content-type", "text/plain; charset=utf-8");
    return new Response(`Not found: no dashboard asset "${pathname}"\n`, { status: 404, headers });
  }
  headers.set("etag", found.etag);
  // Revalidated on every load: a new binary's assets are picked up at once, and an unchanged
  // one costs a 304.
  headers.set("cache-control", "no-cache");
  if (matchesEtag(req.headers.get("if-none-match"), found.etag)) {
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-type", found.contentType);
  headers.set("content-length", String(found.bytes.byteLength));
  return new Response(req.method === "HEAD" ? null : found.bytes, { headers });
}
