/**
 * Headless Chromium for the dashboard tests: the apt `chromium` binary started in its own process
 * group with a temp profile, driven by playwright-core over the DevTools protocol. Disposing it
 * closes the connection, kills the group and removes the profile. Every request a page makes is
 * recorded, so a test can assert what went over the wire (e.g. that no URL carries a token).
 * @module
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { startGroup } from "./process_groups.ts";
import { tempDir } from "./temp_dir.ts";

/** Where Chromium may be installed; `CHROMIUM` in the environment comes first. */
const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/** The Chromium binary to use, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("CHROMIUM");
  for (const path of fromEnv ? [fromEnv, ...CANDIDATES] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** A request a page made. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** A running headless Chromium; dispose it with `await using`. */
export interface HeadlessBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /** Every request of every page opened with {@linkcode HeadlessBrowser.newPage}. */
  readonly requests: RecordedRequest[];
  /** Dialogs (alert, confirm, prompt) any page opened; they are dismissed. */
  readonly dialogs: string[];
  /** A page in a fresh context (its own sessionStorage), 1280×900 unless given. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
}

/** How long to wait for Chromium's `DevTools listening on` line. */
const START_TIMEOUT_MS = 30_000;

/** Starts headless Chromium (`executable`, see {@linkcode findChromium}). */
export async function launchBrowser(executable: string): Promise<HeadlessBrowser> {
  const profile = await tempDir("ten-chromium-");
  const args = [
    executable,
    "--headless=new",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile.path}`,
    // The tests often run as root (CI containers), where Chromium refuses to start its
    // sandbox: it needs user namespaces or a setuid helper. The pages are our own dashboard
    // on 127.0.0.1, so running without the sandbox risks nothing here.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--mute-audio",
    "about:blank",
  ];
  const group = startGroup(args, { stderr: "piped" });
  const stderrLines: string[] = [];
  let browser: Browser | undefined;
  try {
    const endpoint = await devToolsEndpoint(group.child.stderr, stderrLines);
    browser = await chromium.connectOverCDP(endpoint);
  } catch (err: unknown) {
    await group.stop();
    await profile[Symbol.asyncDispose]();
    throw new Error(`Cannot start ${executable}: ${String(err)}\n${stderrLines.join("\n")}`, {
      cause: err,
    });
  }
  const connected = browser;
  const requests: RecordedRequest[] = [];
  const dialogs: string[] = [];
  const contexts: BrowserContext[] = [];
  return {
    browser: connected,
    requests,
    dialogs,
    async newPage(viewport = { width: 1280, height: 900 }) {
      const context = await connected.newContext({ viewport });
      contexts.push(context);
      const page = await context.newPage();
      page.on("request", (req) => {
        requests.push({ method: req.method(), url: req.url(), headers: req.headers() });
      });
      page.on("dialog", (dialog) => {
        dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        void dialog.dismiss().catch(() => {});
      });
      return page;
    },
    async [Symbol.asyncDispose]() {
      for (const context of contexts) await context.close().catch(() => {});
      await connected.close().catch(() => {});
      // SIGTERM lets Chromium flush its profile; the group kill catches its helper processes.
      await group.stop(2_000);
      await profile[Symbol.asyncDispose]();
    },
  };
}

/**
 * Reads Chromium's stderr until `DevTools listening on ws://…`, then keeps draining it in the
 * background (a full pipe would stall the browser), keeping the last lines for errors.
 */
async function devToolsEndpoint(
  stderr: ReadableStream<Uint8Array>,
  lines: string[],
): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), deadline - Date.now());
    });
    const next = await Promise.race([reader.read(), timeout]);
    clearTimeout(timer);
    if (next === "timeout") break;
    if (next.done) throw new Error("Chromium exited before it listened");
    buffer += next.value;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      if (lines.length > 50) lines.shift();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (match) {
        void drain(reader, lines);
        return match[1]!;
      }
    }
  }
  throw new Error(`Chromium did not print its DevTools address within ${START_TIMEOUT_MS} ms`);
}

async function drain(reader: ReadableStreamDefaultReader<string>, lines: string[]): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      lines.push(value);
      if (lines.length > 50) lines.shift();
    }
  } catch {
    // the group was killed
  }
}
