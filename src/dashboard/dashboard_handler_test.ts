import { equal, ok } from "node:assert/strict";
import { DASHBOARD_CSP, isDashboardPath, serveDashboard } from "./dashboard_handler.ts";

const BASE = "http://localhost:8080";

async function get(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await serveDashboard(new Request(`${BASE}${path}`, init));
  ok(res !== undefined, `${path} is a dashboard path`);
  return res;
}

Deno.test("serveDashboard() serves the embedded page and assets with strict headers", async () => {
  const page = await get("/");
  equal(page.status, 200);
  equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  equal(page.headers.get("content-security-policy"), DASHBOARD_CSP);
  equal(page.headers.get("x-content-type-options"), "nosniff");
  equal(page.headers.get("referrer-policy"), "no-referrer");
  const html = await page.text();
  ok(html.includes("<title>tenement dashboard</title>"));
  // Everything the page loads is served here.
  for (const [, src] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
    const asset = await get(src!);
    equal(asset.status, 200, src);
    ok((await asset.text()).length > 100, src);
  }
});

Deno.test("serveDashboard() answers 304 for a matching ETag, 404 for unknown assets, 405 for POST", async () => {
  const first = await get("/assets/app.js");
  await first.body?.cancel();
  const etag = first.headers.get("etag");
  ok(etag !== null && /^"[0-9a-f]{24}"$/.test(etag), String(etag));
  const again = await get("/assets/app.js", { headers: { "if-none-match": `W/"x", ${etag}` } });
  equal(again.status, 304);
  equal(again.body, null);
  const other = await get("/assets/app.css", { headers: { "if-none-match": etag } });
  equal(other.status, 200);
  await other.body?.cancel();
  const missing = await get("/assets/secret.txt");
  equal(missing.status, 404);
  await missing.body?.cancel();
  const post = await get("/", { method: "POST" });
  equal(post.status, 405);
  await post.body?.cancel();
  const head = await get("/", { method: "HEAD" });
  equal(head.status, 200);
  equal(head.body, null);
});

Deno.test("serveDashboard() leaves other paths to the API", async () => {
  equal(await serveDashboard(new Request(`${BASE}/api/instances`)), undefined);
  ok(isDashboardPath("/assets/app.js"));
  ok(!isDashboardPath("/health"));
});

Deno.test("the dashboard's script never writes HTML: no innerHTML, outerHTML or insertAdjacentHTML", async () => {
  const js = await (await get("/assets/app.js")).text();
  ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(js));
  ok(!/sessionStorage[^\n]*location|[?&]token=/.test(js), "the token stays out of URLs");
});

Deno.test("serveDashboard(): the sign-in form cannot put the token in a URL, even before app.js runs", async () => {
  const html = await (await get("/")).text();
  const form = html.match(/<form id="sign-in-form"[^>]*>[\s\S]*?<\/form>/)?.[0];
  ok(form !== undefined);
  // A form submitted natively (Enter pressed before the deferred script loaded, or a script
  // error) is a GET of the page with its named fields in the query string.
  equal(/\sname=/.test(form), false, "no field of the sign-in form is named");
  ok(DASHBOARD_CSP.includes("form-action 'none'"));
});
