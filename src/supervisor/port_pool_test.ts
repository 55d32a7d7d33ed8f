import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { UnavailableError } from "../core/errors.ts";
import { PortPool } from "./port_pool.ts";

function poolOf(start: number, end: number, busy: Iterable<number> = []): {
  pool: PortPool;
  checked: number[];
} {
  const taken = new Set(busy);
  const checked: number[] = [];
  const pool = new PortPool({
    start,
    end,
    isFree: (port) => {
      checked.push(port);
      return Promise.resolve(!taken.has(port));
    },
  });
  return { pool, checked };
}

Deno.test("PortPool.allocate() hands out ports in order from the start of the range", async () => {
  const { pool } = poolOf(30000, 30009);
  deepEqual([await pool.allocate(), await pool.allocate(), await pool.allocate()], [
    30000,
    30001,
    30002,
  ]);
  equal(pool.inUse, 3);
});

Deno.test("PortPool.allocate() skips ports the OS reports as not free", async () => {
  const { pool } = poolOf(30000, 30004, [30000, 30002]);
  deepEqual([await pool.allocate(), await pool.allocate(), await pool.allocate()], [
    30001,
    30003,
    30004,
  ]);
  equal(pool.inUse, 3);
});

Deno.test("PortPool.allocate() skips ports it handed out without asking the OS again", async () => {
  const { pool, checked } = poolOf(30000, 30002);
  const a = await pool.allocate();
  const b = await pool.allocate();
  pool.release(a);
  checked.length = 0;
  // Round robin continues after b, wraps around, and finds the released port.
  equal(await pool.allocate(), 30002);
  equal(await pool.allocate(), a);
  deepEqual(checked, [30002, a]);
  ok(!checked.includes(b));
});

Deno.test("PortPool.allocate() wraps around to released ports", async () => {
  const { pool } = poolOf(30000, 30002);
  for (let i = 0; i < 3; i++) await pool.allocate();
  pool.release(30001);
  equal(await pool.allocate(), 30001);
});

Deno.test("PortPool.allocate() throws UnavailableError when the range is exhausted, then recovers", async () => {
  const { pool } = poolOf(30000, 30001);
  await pool.allocate();
  await pool.allocate();
  await rejects(pool.allocate(), (err: unknown) => {
    ok(err instanceof UnavailableError);
    equal(err.message, "Cannot allocate a port: every port from 30000 to 30001 is in use");
    return true;
  });
  equal(pool.inUse, 2);
  pool.release(30000);
  equal(await pool.allocate(), 30000);
});

Deno.test("PortPool.allocate() throws when no port in the range is free at the OS", async () => {
  const { pool } = poolOf(30000, 30002, [30000, 30001, 30002]);
  await rejects(pool.allocate(), UnavailableError);
  equal(pool.inUse, 0);
});

Deno.test("PortPool.allocate() never hands the same port to concurrent callers", async () => {
  const pool = new PortPool({
    start: 30000,
    end: 30009,
    isFree: () => new Promise((resolve) => setTimeout(() => resolve(true), 1)),
  });
  const ports = await Promise.all(Array.from({ length: 10 }, () => pool.allocate()));
  equal(new Set(ports).size, 10);
});

Deno.test("PortPool.release() of a port never handed out changes nothing", async () => {
  const { pool } = poolOf(30000, 30001);
  pool.release(12345);
  equal(pool.inUse, 0);
  equal(await pool.allocate(), 30000);
});
