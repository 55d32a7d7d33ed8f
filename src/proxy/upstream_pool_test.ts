import { equal, ok } from "node:assert/strict";
import { targetKey, UpstreamPool, type UpstreamTarget } from "./upstream_pool.ts";

/** A TCP listener that keeps every accepted connection (to close them on demand). */
function upstream(): { target: UpstreamTarget; accepted: Deno.Conn[]; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  void (async () => {
    try {
      for await (const conn of listener) accepted.push(conn);
    } catch {
      // Closed.
    }
  })();
  return {
    target: { kind: "tcp", hostname: "127.0.0.1", port: listener.addr.port },
    accepted,
    close() {
      listener.close();
      for (const c of accepted) {
        try {
          c.close();
        } catch {
          // Closed already.
        }
      }
    },
  };
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("UpstreamPool reuses a released connection, last in first out", async () => {
  const up = upstream();
  const pool = new UpstreamPool();
  try {
    const key = targetKey(up.target);
    equal(pool.take(key), undefined);
    const a = await pool.connect(up.target, key);
    const b = await pool.connect(up.target, key);
    pool.release(a, true, 0);
    pool.release(b, true, 0);
    equal(pool.idleCount, 2);
    equal(pool.take(key), b);
    equal(pool.take(key), a);
    equal(pool.take(key), undefined);
    ok(!a.isClosed && !b.isClosed);
    pool.release(a, false, 0);
    ok(a.isClosed, "a connection released as not reusable is closed");
    const c = await pool.connect(up.target, key);
    pool.release(c, true, 0);
    equal(pool.idleCount, 1);
  } finally {
    pool.close();
    up.close();
  }
});

Deno.test("UpstreamPool drops an idle connection the instance closed", async () => {
  const up = upstream();
  const pool = new UpstreamPool();
  try {
    const key = targetKey(up.target);
    const a = await pool.connect(up.target, key);
    pool.release(a, true, 0);
    await until(() => up.accepted.length === 1);
    up.accepted[0]!.close();
    await until(() => a.isClosed);
    equal(pool.idleCount, 0);
    equal(pool.take(key), undefined);
  } finally {
    pool.close();
    up.close();
  }
});

Deno.test("UpstreamPool sweep, closeTarget and close", async () => {
  const up = upstream();
  const pool = new UpstreamPool({ idleTimeoutMs: 1_000 });
  try {
    const key = targetKey(up.target);
    const old = await pool.connect(up.target, key);
    const fresh = await pool.connect(up.target, key);
    const other = await pool.connect(up.target, key);
    pool.release(old, true, 0);
    pool.release(fresh, true, 900);
    pool.sweep(1_000);
    ok(old.isClosed, "parked for the idle timeout: closed");
    ok(!fresh.isClosed);
    pool.closeTarget(up.target);
    ok(fresh.isClosed, "closeTarget closes idle connections");
    ok(!other.isClosed, "but not one in use");
    pool.close();
    ok(other.isClosed, "close() also closes connections in use");
    let refused = false;
    await pool.connect(up.target, key).catch(() => refused = true);
    ok(refused, "a closed pool makes no new connections");
  } finally {
    pool.close();
    up.close();
  }
});
