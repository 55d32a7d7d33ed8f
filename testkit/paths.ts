/**
 * Where things are: the checkout, its fixtures and examples, and the programs tests and
 * benchmarks start (this deno, and python3 without the pyenv shim where there is one).
 * @module
 */

/** Repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Fixture apps of the integration tests. */
export const FIXTURES = `${ROOT}/tests/fixtures`;
/** Example apps. */
export const EXAMPLES = `${ROOT}/examples`;
/** The deno running this process: the daemon and the CLI are started with the same one. */
export const DENO = Deno.execPath();
/** Python without the pyenv shim where available (faster starts). */
export const PYTHON = (() => {
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
})();

/** `deno run` arguments that run this checkout's `main.ts` (what `bin/ten` execs). */
export function tenArgs(denoFlags: readonly string[] = []): string[] {
  return ["run", "-A", "--quiet", "--config", `${ROOT}/deno.json`, ...denoFlags, `${ROOT}/main.ts`];
}
