/**
 * Preloaded into `ten serve` by the `gcHook` start option of testkit/daemon.ts (`deno run
 * --v8-flags=--expose-gc --preload …`; bench/idle_rss.ts uses it): on SIGUSR2 it runs two full
 * garbage collections and writes one marker line to stderr with `Deno.memoryUsage()` (bytes: rss,
 * heapTotal, heapUsed, external) taken right after, so a memory reading can be taken
 * "GC-settled" and split into JS heap and the rest. It changes nothing else; without --expose-gc
 * it does nothing.
 * @module
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  const encoder = new TextEncoder();
  Deno.addSignalListener("SIGUSR2", () => {
    gc();
    gc();
    const line = `tenement-bench: gc done ${JSON.stringify(Deno.memoryUsage())}\n`;
    Deno.stderr.writeSync(encoder.encode(line));
  });
}
