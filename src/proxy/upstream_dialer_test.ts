import { equal, ok } from "node:assert/strict";
import { AddressMatcher } from "../core/cidr.ts";
import type { FrontSettings } from "./front_settings.ts";
import type { Target, TargetResolver } from "./target.ts";
import { tcpTarget, UpstreamDialer } from "./upstream_dialer.ts";
import { targetKey, UpstreamPool } from "./upstream_pool.ts";

const unusedResolver: TargetResolver = {
  resolveDirect: () => Promise.reject(new Error("unused")),
  resolveWeighted: () => Promise.reject(new Error("unused")),
  beginRequest: () => () => {},
  waitForRestart: () => Promise.resolve(undefined),
};

function settingsWith(overrides: Partial<FrontSettings>): FrontSettings {
  return {
    domain: "localhost",
    resolver: unusedResolver,
    fallback: undefined,
    fallbackKey: "",
    fallbackHost: "localhost",
    fallbackTimeoutMs: 1_000,
    proto: "http",
    trustedProxies: new AddressMatcher([]),
    onProxied: undefined,
    preferUnix: () => false,
    headTimeoutMs: 1_000,
    firstByteTimeoutMs: 1_000,
    idleTimeoutMs: 1_000,
    bodyTimeoutMs: 1_000,
    sendTimeoutMs: 1_000,
    ...overrides,
  };
}

function targetOn(port: number, socketPath?: string): Target {
  return { service: "app", id: "a", port, socketPath, requestTimeoutMs: 1_000 };
}

/** Accepts connections on `listener` (keeping them open) until disposed. */
function acceptAll<A extends Deno.Addr>(listener: Deno.Listener<Deno.Conn<A>, A>) {
  const accepted: Deno.Conn[] = [];
  const loop = (async () => {
    try {
      for await (const conn of listener) accepted.push(conn);
    } catch {
      // Closed.
    }
  })();
  return {
    listener,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
      for (const conn of accepted) conn.close();
    },
  };
}

Deno.test("UpstreamDialer opens over TCP and takes the connection back from the pool", async () => {
  await using up = acceptAll(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const port = up.listener.addr.port;
  const pool = new UpstreamPool();
  try {
    const dialer = new UpstreamDialer(pool, settingsWith({}));
    const target = targetOn(port);
    equal(dialer.takePooled(target), undefined);
    const sock = await dialer.open(target);
    equal(sock.key, targetKey(tcpTarget(port)));
    pool.release(sock, true, 0);
    equal(dialer.takePooled(target), sock);
    pool.release(sock, false, 0);
  } finally {
    pool.close();
  }
});

Deno.test("UpstreamDialer prefers the Unix socket and falls back to TCP", async (t) => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/app.sock`;
  await using tcp = acceptAll(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const port = tcp.listener.addr.port;
  const pool = new UpstreamPool();
  try {
    const dialer = new UpstreamDialer(pool, settingsWith({ preferUnix: () => true }));
    await t.step("a missing socket: TCP", async () => {
      const sock = await dialer.open(targetOn(port, path));
      equal(sock.key, targetKey(tcpTarget(port)));
      pool.release(sock, true, 0);
      equal(dialer.takePooled(targetOn(port, path)), sock, "a pooled TCP connection serves too");
      pool.release(sock, false, 0);
    });
    await t.step("a listening socket: Unix", async () => {
      await using _unix = acceptAll(Deno.listen({ transport: "unix", path }));
      const sock = await dialer.open(targetOn(port, path));
      equal(sock.key, targetKey({ kind: "unix", path }));
      pool.release(sock, true, 0);
      equal(dialer.takePooled(targetOn(port, path)), sock);
      pool.release(sock, false, 0);
    });
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UpstreamDialer sends requests without a target to the fallback", async () => {
  await using up = acceptAll(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const fallback = tcpTarget(up.listener.addr.port);
  const pool = new UpstreamPool();
  try {
    const fallbackKey = targetKey(fallback);
    const dialer = new UpstreamDialer(pool, settingsWith({ fallback, fallbackKey }));
    const sock = await dialer.open(null);
    equal(sock.key, fallbackKey);
    pool.release(sock, true, 0);
    equal(dialer.takePooled(null), sock);
    ok(!sock.isClosed);
    pool.release(sock, false, 0);
  } finally {
    pool.close();
  }
});
