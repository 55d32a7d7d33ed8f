/**
 * The dashboard at the bare domain (issue 11), in real headless Chromium against a real
 * `ten serve`: sign in with a token, the live instance table, log search and live tail, admin
 * actions (stop, weight), a tenant token's narrower view, a bad token, a hostile log line
 * rendered as text, the security headers, and no token in any URL. Screenshots of each step go
 * to test-artifacts/dashboard/ (gitignored). Skipped, with a line saying why, only when no
 * Chromium binary is installed.
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  apiSpawn,
  type Daemon,
  progress,
  rawRequest,
  ROOT,
  serviceBlock,
  settingsBlock,
  startDaemon,
  waitFor,
} from "../testkit/mod.ts";
import { findChromium, launchBrowser } from "../testkit/browser.ts";

const CHROMIUM = findChromium();
if (CHROMIUM === undefined) {
  progress(
    "dashboard_test: skipped: no chromium binary (apt-get install chromium, or set CHROMIUM)",
  );
}

const ARTIFACTS = `${ROOT}/test-artifacts/dashboard`;
const TALK = serviceBlock("talk", { fixture: "say.py", health: "/health", auto_create: true });
const XSS = "<img src=x onerror=alert(1)>";

/** Makes `id`'s app print `text`. */
async function say(d: Daemon, id: string, text: string): Promise<void> {
  const res = await d.request(`${id}.talk.localhost`, `/say?text=${encodeURIComponent(text)}`);
  equal(res.status, 200, res.body);
}

/**
 * Saves a screenshot of `page` as test-artifacts/dashboard/`name`.png: the whole page, or the
 * viewport only (a full-page capture of a page taller than the viewport drops its scrollbar and
 * so shows a layout a few pixels wider than the image).
 */
async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage });
}

/** The text of `key`'s cell `column` (a class of the row's cells: status, weight, …). */
function cell(page: Page, key: string, column: string): Promise<string> {
  return page.locator(`tr[data-key="${key}"] td.${column}`).innerText();
}

async function signIn(page: Page, d: Daemon, token: string): Promise<void> {
  await page.goto(`${d.url}/`);
  await page.locator("#token").fill(token);
  await page.locator("#sign-in-form button").click();
}

Deno.test({
  name: "dashboard: sign in, live table, logs search and tail, actions, tenant scope, XSS as text",
  ignore: CHROMIUM === undefined,
  async fn(t) {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using d = await startDaemon({ config: settingsBlock() + TALK });
    await apiSpawn(d, "talk", "bob");
    // alice is created and woken by this request: a wake for the wake columns and chart.
    await say(d, "alice", "hello from the dashboard fixture");
    await using chrome = await launchBrowser(CHROMIUM!);
    const tenantToken = await d.tenantToken("alice");

    await t.step("/ and /assets/ are public, with CSP, nosniff and ETags", async () => {
      const page = await rawRequest(d.port, "localhost", "/");
      equal(page.status, 200);
      ok(page.body.includes("<title>tenement dashboard</title>"));
      const csp = page.headers.get("content-security-policy") ?? "";
      ok(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), csp);
      ok(!/unsafe-inline|unsafe-eval/.test(csp), csp);
      equal(page.headers.get("x-content-type-options"), "nosniff");
      equal(page.headers.get("referrer-policy"), "no-referrer");
      const js = await rawRequest(d.port, "localhost", "/assets/app.js");
      equal(js.status, 200);
      ok(js.headers.get("content-type")?.startsWith("text/javascript"));
      const etag = js.headers.get("etag");
      ok(etag !== null, "app.js has an ETag");
      const again = await rawRequest(d.port, "localhost", "/assets/app.js", {
        headers: { "if-none-match": etag },
      });
      equal(again.status, 304);
      equal((await rawRequest(d.port, "localhost", "/assets/uplot.js")).status, 200);
      equal((await rawRequest(d.port, "localhost", "/assets/nope.js")).status, 404);
      // No inline script or style: the CSP would block it, so there must be none.
      ok(!/<script>|<style|style="/.test(page.body));
    });

    await t.step("/api/whoami and /api/telemetry give the page what it shows", async () => {
      const admin = await d.api("GET", "/api/whoami");
      equal(admin.status, 200, admin.body);
      deepEqual(JSON.parse(admin.body), {
        kind: "admin",
        scope: "all",
        tenant: null,
        services: null,
      });
      const tenant = await d.apiAs(tenantToken, "GET", "/api/whoami");
      equal(JSON.parse(tenant.body).kind, "tenant");
      equal(JSON.parse(tenant.body).scope, "alice");
      equal((await rawRequest(d.port, "localhost", "/api/whoami")).status, 401);
      const telemetry = JSON.parse((await d.api("GET", "/api/telemetry")).body) as {
        instances: Record<string, unknown>[];
      };
      const alice = telemetry.instances.find((row) => row["id"] === "talk:alice");
      ok(alice !== undefined);
      equal(alice["status"], "running");
      ok("rss_bytes" in alice && "cpu_seconds" in alice);
      ok(Number(alice["wakes"]) >= 1, JSON.stringify(alice));
      ok(Number(alice["wake_avg_ms"]) > 0 && Number(alice["wake_p95_ms"]) > 0);
    });

    await t.step("a bad token is refused with a clear message", async () => {
      const page = await chrome.newPage();
      await signIn(page, d, "not-a-real-token-at-all");
      await page.locator("#sign-in-error").getByText("the token was refused").waitFor();
      ok(await page.locator("#app").isHidden());
      await shot(page, "01-bad-token");
      await page.context().close();
    });

    const admin = await chrome.newPage();
    await t.step("the admin sees every instance, running and healthy", async () => {
      await signIn(admin, d, d.token);
      await admin.locator('tr[data-key="talk:alice"]').waitFor();
      await admin.locator('tr[data-key="talk:bob"]').waitFor();
      equal(await cell(admin, "talk:alice", "status"), "running");
      await waitFor(async () => (await cell(admin, "talk:alice", "health")) === "healthy", {
        what: "alice healthy in the table",
        timeoutMs: 15_000,
      });
      equal(await admin.locator("#who").innerText(), "admin");
      equal(
        await admin.evaluate(() => sessionStorage.getItem("tenement.token")),
        d.token,
        "the token is kept in sessionStorage",
      );
      await shot(admin, "02-admin-table");
    });

    await t.step(
      "log search finds a line the app printed; a bad query shows the API's message",
      async () => {
        await admin.locator("#logs-search").fill("dashboard fixture");
        await admin.locator("#logs-form button[type=submit]").click();
        await admin.locator("#log-lines li").getByText("hello from the dashboard fixture")
          .waitFor();
        await admin.locator("#logs-level").selectOption("stderr");
        await admin.locator("#logs-status").getByText("No matching lines").waitFor();
        await admin.locator("#logs-level").selectOption("");
        await shot(admin, "03-log-search");
        await admin.locator("#logs-search").fill("(connection");
        await admin.locator("#logs-form button[type=submit]").click();
        await admin.locator("#logs-error").getByText("Invalid search").waitFor();
        await shot(admin, "04-bad-search");
        await admin.locator("#logs-search").fill("");
      },
    );

    await t.step("a hostile log line is rendered as text: no element, no dialog", async () => {
      await say(d, "alice", XSS);
      await admin.locator('tr[data-key="talk:alice"] td.key button').click();
      await admin.locator("#logs-search").fill("");
      await waitFor(async () => {
        await admin.locator("#logs-form button[type=submit]").click();
        return (await admin.locator("#log-lines li .msg").getByText(XSS, { exact: true })
          .count()) === 1;
      }, { what: "the hostile line in the list", timeoutMs: 10_000 });
      equal(await admin.locator("#log-lines img").count(), 0);
      equal(await admin.evaluate("document.querySelectorAll('img').length"), 0);
      deepEqual(chrome.dialogs, []);
      await shot(admin, "05-xss-as-text");
    });

    await t.step("live tail shows a new line as it is printed", async () => {
      await admin.locator("#logs-tail").check();
      await admin.locator("#logs-status").getByText("Live").waitFor();
      await say(d, "alice", "tail line printed after the stream opened");
      await admin.locator("#log-lines li").getByText("tail line printed after the stream opened")
        .waitFor({ timeout: 10_000 });
      await shot(admin, "06-live-tail");
      await admin.locator("#logs-tail").uncheck();
    });

    await t.step(
      "a search with no match yet, then tailed, shows the first matching line once",
      async () => {
        await admin.locator("#logs-search").fill("zebracrossing");
        await admin.locator("#logs-form button[type=submit]").click();
        await admin.locator("#logs-status").getByText("No matching lines").waitFor();
        await admin.locator("#logs-tail").check();
        await admin.locator("#logs-status").getByText("Live").waitFor();
        await say(d, "alice", "a zebracrossing line");
        const line = admin.locator("#log-lines li .msg").getByText("a zebracrossing line");
        await line.waitFor({ timeout: 10_000 });
        equal(await line.count(), 1);
        await admin.locator("#logs-tail").uncheck();
        await admin.locator("#logs-search").fill("");
        await admin.locator("#logs-form button[type=submit]").click();
      },
    );

    await t.step("stop (confirmed) changes the instance's state in the table", async () => {
      const stop = admin.locator('tr[data-key="talk:bob"] button[data-action="stop"]');
      await stop.click();
      equal(await stop.innerText(), "Confirm stop");
      await stop.click();
      await waitFor(async () => (await cell(admin, "talk:bob", "status")) === "stopped", {
        what: "bob stopped in the table",
        timeoutMs: 15_000,
      });
      await admin.locator('tr[data-key="talk:bob"] button[data-action="start"]').waitFor();
      await shot(admin, "07-stopped");
    });

    await t.step("set a weight", async () => {
      const input = admin.locator('tr[data-key="talk:alice"] td.actions input');
      await input.fill("40");
      await admin.locator('tr[data-key="talk:alice"] button[data-action="set-weight"]').click();
      await waitFor(async () => (await cell(admin, "talk:alice", "weight")) === "40", {
        what: "weight 40 in the table",
        timeoutMs: 10_000,
      });
      equal((await d.instance("talk:alice"))?.weight, 40);
      await admin.locator("#notice").getByText("Weight of talk:alice set to 40").waitFor();
      await shot(admin, "08-weight");
    });

    await t.step("traffic shows as a request rate in the table and the chart", async () => {
      // Fast polling (1 s) follows the weight change; a few polls see the requests go by.
      const until = Date.now() + 4_000;
      let sent = 0;
      while (Date.now() < until) {
        await Promise.all(
          Array.from({ length: 5 }, () => d.request("alice.talk.localhost", "/health")),
        );
        sent += 5;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      ok(sent > 20);
      await waitFor(async () => Number(await cell(admin, "talk:alice", "rate")) > 0, {
        what: "a request rate for alice",
        timeoutMs: 10_000,
      });
      ok(Number(await admin.locator("#sum-rate").innerText()) > 0);
      equal(await admin.locator("#chart-rate canvas").count(), 1);
      await shot(admin, "09-charts");
      // A small laptop screen: the table scrolls inside its card, the charts stack.
      await admin.setViewportSize({ width: 1024, height: 768 });
      await waitFor(
        () =>
          admin.evaluate(
            "[...document.querySelectorAll('.chart')].every((c) => c.scrollWidth <= c.clientWidth + 1)",
          ) as Promise<boolean>,
        { what: "charts resized to their cards" },
      );
      await shot(admin, "09-charts-1024px", false);
      await admin.setViewportSize({ width: 1280, height: 900 });
    });

    await t.step("a tenant token sees only its instance and no actions", async (step) => {
      const page = await chrome.newPage();
      await signIn(page, d, tenantToken);
      await page.locator('tr[data-key="talk:alice"]').waitFor();
      equal(await page.locator("#instances tbody tr").count(), 1);
      equal(await page.locator("button[data-action]").count(), 0);
      ok(await page.locator("#spawn-form").isHidden());
      ok((await page.locator("#who").innerText()).startsWith("tenant"));
      await page.locator("#log-lines li").first().waitFor();
      const instances = await page.locator("#log-lines li .inst").allInnerTexts();
      ok(instances.every((text) => text.trim() === "talk:alice"), instances.join(","));
      await shot(page, "10-tenant");
      await step.step("a revoked token returns to the sign-in form with a message", async () => {
        const res = await d.api("DELETE", `/api/tokens/${tenantToken.slice(0, 8)}`);
        equal(res.status, 200, res.body);
        await page.locator("#sign-in-error").getByText("Signed out").waitFor({ timeout: 15_000 });
        equal(await page.evaluate(() => sessionStorage.getItem("tenement.token")), null);
        await shot(page, "11-revoked");
      });
      await page.context().close();
    });

    await t.step("sign out clears the token", async () => {
      await admin.locator("#sign-out").click();
      await admin.locator("#sign-in").waitFor();
      equal(await admin.evaluate(() => sessionStorage.getItem("tenement.token")), null);
    });

    await t.step("no token in any URL; every API call carried the bearer header", () => {
      ok(chrome.requests.length > 10, `${chrome.requests.length} requests recorded`);
      for (const req of chrome.requests) {
        ok(!req.url.includes(d.token), `admin token in ${req.url}`);
        ok(!req.url.includes(tenantToken), `tenant token in ${req.url}`);
        ok(!req.url.includes(tenantToken.slice(0, 8)) || req.url.includes("/api/tokens/"), req.url);
      }
      const apiCalls = chrome.requests.filter((req) =>
        new URL(req.url).pathname.startsWith("/api/")
      );
      ok(apiCalls.length > 0);
      for (const req of apiCalls) ok(req.headers["authorization"]?.startsWith("Bearer "), req.url);
      deepEqual(chrome.dialogs, []);
    });
    await admin.context().close();
  },
});
