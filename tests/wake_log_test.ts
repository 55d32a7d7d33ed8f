/**
 * Integration test of the daemon's wake log line (issue 12): "Woke X in N ms" measures the wake
 * as the client sees it, from the request's arrival to the instance being ready, and lists its
 * phases. Read from a real `ten serve`'s log output.
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { apiSpawn, okService, settingsBlock, startDaemon, waitFor } from "../testkit/mod.ts";

const WOKE =
  /Woke notes:alice in (\d+) ms \(queued (\d+) ms, spawned (\d+) ms, listening (\d+) ms, healthy (\d+) ms\)/;

Deno.test("the wake log line times the whole wake the client waited for, with its phases", async () => {
  await using d = await startDaemon({
    // The app binds 300 ms after it starts: that time belongs to the wake the client sees.
    config: settingsBlock() + okService("notes", { fixture: "slow_start.py" }),
    env: { START_DELAY_MS: "300" },
  });
  await apiSpawn(d, "notes", "alice");
  await d.stopInstance("notes", "alice");

  const sentAt = performance.now();
  const res = await d.request("alice.notes.localhost", "/");
  const clientMs = performance.now() - sentAt;
  equal(res.status, 200, res.body);

  const line = await waitFor(() => WOKE.exec(d.stderr), { what: "the wake log line" });
  const [total, queued, spawned, listening, healthy] = line.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  ok(total >= 300, `the wake includes the app's start-up: ${line[0]}`);
  ok(listening >= 250, `the app listened after its start delay: ${line[0]}`);
  ok(total <= clientMs + 5, `no longer than the client waited (${clientMs} ms): ${line[0]}`);
  const sum = queued + spawned + listening + healthy;
  ok(Math.abs(sum - total) <= 4, `the phases add up to the total: ${line[0]}`);
});
