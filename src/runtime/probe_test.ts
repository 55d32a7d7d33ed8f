import { deepEqual } from "node:assert/strict";
import { NetProber } from "./probe.ts";

/** A port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("NetProber marks a refused connect, so start-up can tell 'nothing listens'", async () => {
  const prober = new NetProber();
  const port = freePort();
  deepEqual(await prober.tcp(port, 1000), {
    isPass: false,
    detail: "connection refused",
    isRefused: true,
  });
  deepEqual(await prober.http(port, "/health", 1000), {
    isPass: false,
    detail: "connection refused",
    isRefused: true,
  });
});

Deno.test("NetProber reports a listening app's failing status as not refused", async () => {
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    () => new Response("no", { status: 500 }),
  );
  try {
    const prober = new NetProber();
    deepEqual(await prober.http(server.addr.port, "/health", 2000), {
      isPass: false,
      detail: "HTTP 500",
      isRefused: false,
    });
    deepEqual(await prober.tcp(server.addr.port, 2000), {
      isPass: true,
      detail: "connected",
      isRefused: false,
    });
  } finally {
    controller.abort();
    await server.finished;
  }
});

Deno.test("NetProber probes over a Unix socket when given one; a missing socket file counts as refused", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/app.sock`;
  const prober = new NetProber();
  try {
    const missing = await prober.http(1, "/health", 1000, path);
    deepEqual([missing.isPass, missing.isRefused], [false, true]);
    const controller = new AbortController();
    const server = Deno.serve(
      { transport: "unix", path, signal: controller.signal, onListen: () => {} },
      () => new Response("ok"),
    );
    deepEqual((await prober.http(1, "/health", 1000, path)).isPass, true);
    deepEqual((await prober.tcp(1, 1000, path)).isPass, true);
    controller.abort();
    await server.finished;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
